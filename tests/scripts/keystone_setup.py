#!/usr/bin/python3
"""Populates a test Keystone over its REST API, as an operator would:
  - project "service" with user "barbican" (admin there: Barbican's token
    validation), the key-manager service and its public endpoint URL;
  - project "volumes" with user "volcrypt" (roles member, creator) and an
    application credential of it; user "observer" (role reader only).
Writes the names, passwords and credential to DIR/credentials.json (0600).
    keystone_setup.py AUTH_URL ADMIN_PASSWORD BARBICAN_URL DIR
"""
import json
import os
import secrets
import sys

import requests


def main():
    auth_url, admin_password, barbican_url, directory = sys.argv[1:5]
    s = requests.Session()

    def token(user, password, project):
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"name": "Default"}, "password": password}}},
            "scope": {"project": {"name": project, "domain": {"name": "Default"}}}}}
        r = s.post(auth_url + "/auth/tokens", json=body)
        r.raise_for_status()
        return r.headers["X-Subject-Token"], r.json()["token"]

    admin, _ = token("admin", admin_password, "admin")
    h = {"X-Auth-Token": admin}

    def create(kind, body):
        r = s.post("%s/%s" % (auth_url, kind + "s"), json={kind: body}, headers=h)
        r.raise_for_status()
        return r.json()[kind]["id"]

    def role_id(name):
        r = s.get(auth_url + "/roles", params={"name": name}, headers=h)
        r.raise_for_status()
        found = r.json()["roles"]
        return found[0]["id"] if found else create("role", {"name": name})

    def grant(project, user, role):
        s.put("%s/projects/%s/users/%s/roles/%s" % (auth_url, project, user, role_id(role)),
              headers=h).raise_for_status()

    creds = {"auth_url": auth_url}
    service = create("project", {"name": "service", "domain_id": "default"})
    volumes = create("project", {"name": "volumes", "domain_id": "default"})
    creds["volumes_project_id"] = volumes
    for name, project, roles in (("barbican", service, ["admin"]),
                                 ("volcrypt", volumes, ["member", "creator"]),
                                 ("observer", volumes, ["observer"])):
        password = secrets.token_hex(16)
        user = create("user", {"name": name, "domain_id": "default", "password": password})
        for role in roles:
            grant(project, user, role)
        creds[name] = {"id": user, "password": password}
    key_manager = create("service", {"type": "key-manager", "name": "barbican"})
    create("endpoint", {"service_id": key_manager, "interface": "public",
                        "region_id": "RegionOne", "url": barbican_url})
    # An application credential belongs to its user: made with their token.
    user_token, _ = token("volcrypt", creds["volcrypt"]["password"], "volumes")
    r = s.post("%s/users/%s/application_credentials" % (auth_url, creds["volcrypt"]["id"]),
               json={"application_credential": {"name": "volcrypt-tests"}},
               headers={"X-Auth-Token": user_token})
    r.raise_for_status()
    ac = r.json()["application_credential"]
    creds["application_credential"] = {"id": ac["id"], "secret": ac["secret"]}
    path = os.path.join(directory, "credentials.json")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(creds, f)


if __name__ == "__main__":
    main()
