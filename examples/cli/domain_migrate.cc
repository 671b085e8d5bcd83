#include "examples/cli/domain_migrate.h"

#include <cstdio>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "volcrypt/attacher.h"
#include "volcrypt/migration.h"

namespace volcrypt_cli {
namespace {

int Error(const std::string& domain, const absl::Status& s) {
  std::fprintf(stderr, "volcrypt: domain migrate %s: %s\n", OneLineText(domain, 64).c_str(),
               OneLineText(std::string(s.message()), 240).c_str());
  return 1;
}

}  // namespace

int DomainMigrate(const Args& args, const std::vector<std::string>& words,
                  volcrypt::VolumeService& service) {
  if (words.size() != 3 || words[1] != "migrate" || !args.Get("to")) {
    std::fprintf(stderr, "volcrypt: usage: domain migrate NAME --connect SRC --to DEST_URI "
                         "[--to-host H] [--migrate-uri URI]\n");
    return 2;
  }
  volcrypt::DomainMigrationOptions o;
  o.domain = words[2];
  o.source_uri = args.Get("connect").value_or("qemu:///system");
  o.destination_uri = *args.Get("to");
  o.destination_host = args.Get("to-host").value_or("");
  o.migrate_uri = args.Get("migrate-uri").value_or("");
  absl::StatusOr<std::unique_ptr<volcrypt::Attacher>> dest =
      volcrypt::Attacher::Connect(o.destination_uri);
  if (!dest.ok()) return Error(o.domain, dest.status());
  absl::StatusOr<volcrypt::MigrationPlan> moved =
      volcrypt::MigrateDomain(service, **dest, o);
  if (!moved.ok()) return Error(o.domain, moved.status());
  nlohmann::json out = {{"domain", o.domain},
                        {"to", o.destination_uri},
                        {"volumes", moved->volume_ids}};
  std::cout << out.dump(2) << std::endl;
  return 0;
}

}  // namespace volcrypt_cli
