// The fixture of the online conversion tests (lib/volumes/online_conversion.h)
// against the private libvirtd and real QEMU of tests/libvirt/libvirt_testbed.h:
// a running domain, a volume attached on sdb (a LUKS1 one through volcrypt, or
// a managed plain one attached behind volcrypt's back as nova would), QEMU
// writes through HMP qemu-io, qemu-io reads of the files, and the promised
// end state after a conversion, finished or undone. Header-only: the
// programs that use it link libvirt_testbed.cc.
#ifndef VOLCRYPT_TESTS_SUPPORT_ONLINE_CONVERSION_FIXTURE_H_
#define VOLCRYPT_TESTS_SUPPORT_ONLINE_CONVERSION_FIXTURE_H_

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_format.h"
#include "tests/libvirt/libvirt_testbed.h"
#include "tests/support/libvirt_service_fixture.h"
#include "tests/support/faults.h"
#include "tests/support/test_support.h"
#include "volcrypt/attacher.h"
#include "volcrypt/file_key_manager.h"
#include "volcrypt/mapped_backend.h"
#include "volcrypt/volume_service.h"

namespace volcrypt {
namespace testing {

class OnlineConversionFixture : public LibvirtServiceFixture {
 protected:
  OnlineConversionFixture() : LibvirtServiceFixture(kDomain) {}

  static constexpr uint64_t kSize = 16 << 20;
  static constexpr const char* kDomain = "volcrypt-online";

  // A LUKS1 file volume attached live and to the config, with a pattern
  // written through QEMU.
  VolumeRecord AttachedVolume(const std::string& id) {
    CreateVolumeRequest r;
    r.id = id;
    r.location = VolumeLocation::Path(tmp_.File(id));
    r.size_bytes = kSize;
    EXPECT_TRUE(service_->CreateVolume(r).ok());
    AttachTarget t;
    t.domain = kDomain;
    t.config = true;
    absl::StatusOr<VolumeRecord> a = service_->AttachVolume(id, t, {});
    EXPECT_TRUE(a.ok()) << a.status();
    Write(0xd4, 0, 1 << 20);
    return a.ok() ? *a : VolumeRecord();
  }

  // A plain file managed as plain (--unencrypted) and attached live and to
  // the config behind volcrypt's back (no <encryption>, serial = the id),
  // as nova attaches a volume, with the same pattern.
  VolumeRecord AttachedPlainVolume(const std::string& id) {
    const std::string path = tmp_.File(id);
    MakeSparseFile(path, kSize);
    ManageVolumeRequest m;
    m.id = id;
    m.location = VolumeLocation::Path(path);
    m.key_kind = ManagedKeyKind::kNone;
    absl::StatusOr<VolumeRecord> v = service_->ManageVolume(m);
    EXPECT_TRUE(v.ok()) << v.status();
    probe_.AttachDevice(kDomain,
                        "<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
                        "<source file='" + path + "'/><target dev='sdb' bus='scsi'/>"
                        "<serial>" + id + "</serial></disk>",
                        VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG);
    Write(0xd4, 0, 1 << 20);
    return v.ok() ? *v : VolumeRecord();
  }

  // Encrypt for a plain volume, reencrypt for an encrypted one, to
  // "<id>-new" with the defaults (LUKS1, qemu engine).
  ConvertVolumeRequest Request(const std::string& id) {
    ConvertVolumeRequest r;
    r.id = id;
    absl::StatusOr<VolumeRecord> v = store_->GetVolume(id);
    r.kind = v.ok() && !v->encrypted ? ConversionKind::kEncrypt : ConversionKind::kReencrypt;
    r.target = VolumeLocation::Path(tmp_.File(id + "-new"));
    return r;
  }

  void Write(int pattern, uint64_t offset, uint64_t len) {
    const std::string out = probe_.Hmp(
        kDomain, absl::StrFormat("qemu-io -d scsi0-0-0-1 \"write -P 0x%02x %d %d\"", pattern,
                                 offset, len));
    EXPECT_EQ(out.find("rror"), std::string::npos) << out;
  }

  // qemu-io reads of a LUKS file with the passphrase of key `key_id`, or
  // of a raw file if `key_id` is "".
  std::string Read(const std::string& path, const std::string& key_id,
                   const std::vector<std::string>& reads) {
    std::vector<std::string> argv = {"qemu-io", "-r", "-U"};
    SecretBytes pass;
    if (key_id.empty()) {
      argv.insert(argv.end(), {"-f", "raw", path});
    } else {
      pass = HexPassphrase(keys_->GetKey(key_id).value());
      argv.insert(argv.end(), {"--object", "secret,id=s0,file=/dev/fd/3", "--image-opts",
                               "driver=luks,key-secret=s0,file.filename=" + path});
    }
    for (const std::string& c : reads) {
      argv.push_back("-c");
      argv.push_back(c);
    }
    auto r = RunCommand(argv, key_id.empty() ? nullptr : &pass);
    return r.out + r.err;
  }

  // The promised end state of volume `before` after a conversion, finished
  // or undone: one location with at most one key, which opens it; the disk
  // in the domain, live and persistent, on that location; an encrypted
  // volume 'in-use' with one libvirt secret, which the attachment and the
  // disk name; a plain one (undone) 'available' as it was, with no
  // attachment, key or secret; the other side's file, key and secret gone
  // (the source kept with `kept`). Returns whether it is the new one.
  bool ExpectOneWholeVolume(const VolumeRecord& before, bool kept = false) {
    const std::string id = before.id;
    const std::string old_path = before.location.path;
    const std::string new_path = tmp_.File(id + "-new");
    VolumeRecord now = store_->GetVolume(id).value();
    EXPECT_TRUE(absl::IsNotFound(store_->GetConversion(id).status()));
    const bool is_new = now.location.path == new_path;
    EXPECT_TRUE(is_new || now.location.path == old_path) << now.location.path;
    EXPECT_EQ(access((is_new ? old_path : new_path).c_str(), F_OK), is_new && kept ? 0 : -1);
    EXPECT_EQ(access(now.location.path.c_str(), F_OK), 0);
    EXPECT_EQ(is_new, now.encryption_key_id != before.encryption_key_id);
    EXPECT_EQ(now.encrypted, is_new || before.encrypted);
    std::vector<std::string> keys;
    if (!now.encryption_key_id.empty()) keys.push_back(now.encryption_key_id);
    if (kept && is_new && !before.encryption_key_id.empty()) {
      keys.push_back(before.encryption_key_id);
    }
    std::vector<std::string> named = keys_->FindKeysByName(KeyNameForVolume(id)).value();
    std::sort(named.begin(), named.end());
    std::sort(keys.begin(), keys.end());
    EXPECT_EQ(named, keys);
    std::vector<std::string> secrets;
    const std::vector<LibvirtSecretInfo> all = attacher_->ListVolcryptSecrets().value();
    for (const LibvirtSecretInfo& s : all) {
      if (IsSecretUsageOf(s.usage_id, id)) secrets.push_back(s.uuid);
    }
    absl::StatusOr<AttachmentRecord> a = store_->GetAttachment(id);
    if (now.encrypted) {
      EXPECT_EQ(now.status, VolumeStatus::kInUse);
      EXPECT_TRUE(a.ok()) << a.status();
      EXPECT_EQ(secrets, std::vector<std::string>{a.ok() ? a->secret_uuid : "?"});
    } else {
      EXPECT_EQ(now.status, VolumeStatus::kAvailable);
      EXPECT_TRUE(absl::IsNotFound(a.status())) << a.status();
      EXPECT_TRUE(secrets.empty());
    }
    absl::optional<LiveDiskState> live = attacher_->InspectLiveDisk(kDomain, "sdb").value();
    EXPECT_TRUE(live.has_value());
    if (live) {
      EXPECT_FALSE(live->copying);
      EXPECT_EQ(live->source, now.location.path);
      EXPECT_EQ(live->secret_uuid, a.ok() ? a->secret_uuid : "");
    }
    EXPECT_NE(probe_.DomainXml(kDomain, true).find(now.location.path), std::string::npos);
    const std::string out = Read(now.location.path, now.encryption_key_id, {"read -P 0xd4 0 1M"});
    EXPECT_NE(out.find("read 1048576/1048576"), std::string::npos) << out;
    EXPECT_EQ(out.find("verification failed"), std::string::npos) << out;
    return is_new;
  }

  // Frees sdb for the next volume: volcrypt's detach once it owns the
  // disk, libvirt's for a plain disk it never recorded.
  void Unplug(const std::string& id) {
    const VolumeRecord v = store_->GetVolume(id).value();
    if (v.status == VolumeStatus::kInUse) {
      ASSERT_TRUE(service_->DetachVolume(id).ok());
      return;
    }
    probe_.DetachDevice(kDomain,
                        "<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
                        "<source file='" + v.location.path + "'/><target dev='sdb' "
                        "bus='scsi'/><serial>" + id + "</serial></disk>",
                        VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG);
  }

  // The kill matrix in one domain: an undisturbed ConvertVolume of
  // `make("t0")` counts the steps; then for each step k a fresh volume
  // `make("k<k>")`, a child SIGKILLed before step k, Reconcile, the end
  // state (ExpectOneWholeVolume), Unplug. Both outcomes must occur: kills
  // before the pivot go back, after it forward.
  void KillAtEveryStep(const std::function<VolumeRecord(const std::string&)>& make) {
    make("t0");
    const size_t before = faults_.trace().size();
    ASSERT_TRUE(service_->ConvertVolume(Request("t0")).ok());
    const size_t steps = faults_.trace().size() - before;
    Unplug("t0");
    int forward = 0;
    int back = 0;
    for (size_t k = 1; k <= steps; ++k) {
      const std::string id = "k" + std::to_string(k);
      const VolumeRecord v = make(id);
      const size_t at = faults_.trace().size();
      const pid_t pid = fork();
      if (pid == 0) {
        faults_.KillAtStep(static_cast<int>(at + k));
        (void)service_->ConvertVolume(Request(id));
        _exit(0);
      }
      int status = 0;
      waitpid(pid, &status, 0);
      // The number of progress polls (and so of steps) varies from run to
      // run: a run with fewer steps than the traced one finishes unkilled.
      if (!WIFSIGNALED(status)) {
        EXPECT_EQ(WEXITSTATUS(status), 0) << "step " << k;
      }
      absl::StatusOr<int> acted = service_->Reconcile(0);
      ASSERT_TRUE(acted.ok()) << "step " << k << ": " << acted.status();
      SCOPED_TRACE("killed at step " + std::to_string(k));
      (ExpectOneWholeVolume(v) ? forward : back)++;
      Unplug(id);
    }
    EXPECT_GT(forward, 0);
    EXPECT_GT(back, 0);
    std::cout << steps << " steps: " << back << " undone, " << forward << " finished\n";
  }
};

}  // namespace testing
}  // namespace volcrypt

#endif  // VOLCRYPT_TESTS_SUPPORT_ONLINE_CONVERSION_FIXTURE_H_
