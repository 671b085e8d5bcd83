// FaultyRbdBackend: a forwarding wrapper around a REAL RbdBackend (a live
// Ceph cluster) that fails, or kills the process, at a chosen call, as
// FaultyBackend does for any BlockBackend (faults.h). RbdBackend is already
// an interface (every method pure virtual), so VolumeServiceOptions::rbd
// takes this wrapper as it is. A fake for faults only, never a stand-in for
// Ceph.
#ifndef VOLCRYPT_TESTS_SUPPORT_FAULTY_RBD_H_
#define VOLCRYPT_TESTS_SUPPORT_FAULTY_RBD_H_

#include <string>

#include "lib/copy/raw_volume.h"
#include "tests/support/faults.h"
#include "volcrypt/rbd_backend.h"

namespace volcrypt {
namespace testing {

#define VOLCRYPT_RBD_FAULT_POINT(op)       \
  do {                                     \
    absl::Status f_ = plan_->Before(op);   \
    if (!f_.ok()) return f_;               \
  } while (0)

// Ops are named "rbd.<Method>"; reads (Stat, Probe, ReadLuksHeader,
// DescribeDisk, SnapshotExists, VerifyNative) are forwarded without a fault point, as in
// FaultyBackend: a kill before a read is a kill after the step before it.
class FaultyRbdBackend : public RbdBackend {
 public:
  FaultyRbdBackend(RbdBackend* real, FaultPlan* plan) : real_(real), plan_(plan) {}
  BackendKind kind() const override { return real_->kind(); }
  absl::Status Create(const VolumeLocation& w, uint64_t raw) override {
    VOLCRYPT_RBD_FAULT_POINT("rbd.Create");
    return plan_->After("rbd.Create", real_->Create(w, raw));
  }
  absl::Status Delete(const VolumeLocation& w) override {
    VOLCRYPT_RBD_FAULT_POINT("rbd.Delete");
    return plan_->After("rbd.Delete", real_->Delete(w));
  }
  absl::Status Resize(const VolumeLocation& w, uint64_t raw) override {
    VOLCRYPT_RBD_FAULT_POINT("rbd.Resize");
    return plan_->After("rbd.Resize", real_->Resize(w, raw));
  }
  absl::StatusOr<VolumeStat> Stat(const VolumeLocation& w) override { return real_->Stat(w); }
  absl::StatusOr<luks::ContentProbe> Probe(const VolumeLocation& w) override {
    return real_->Probe(w);
  }
  absl::Status WriteLuksHeader(const VolumeLocation& w, const luks::LuksHeaderImage& i,
                               uint32_t s, bool f) override {
    VOLCRYPT_RBD_FAULT_POINT("rbd.WriteLuksHeader");
    return plan_->After("rbd.WriteLuksHeader", real_->WriteLuksHeader(w, i, s, f));
  }
  absl::StatusOr<luks::LuksHeaderImage> ReadLuksHeader(const VolumeLocation& w) override {
    return real_->ReadLuksHeader(w);
  }
  absl::StatusOr<DiskSource> DescribeDisk(const VolumeLocation& w) override {
    return real_->DescribeDisk(w);
  }
  absl::Status CreateSnapshot(const VolumeLocation& w, const std::string& snap) override {
    VOLCRYPT_RBD_FAULT_POINT("rbd.CreateSnapshot");
    return plan_->After("rbd.CreateSnapshot", real_->CreateSnapshot(w, snap));
  }
  absl::Status RemoveSnapshot(const VolumeLocation& w, const std::string& snap) override {
    VOLCRYPT_RBD_FAULT_POINT("rbd.RemoveSnapshot");
    return plan_->After("rbd.RemoveSnapshot", real_->RemoveSnapshot(w, snap));
  }
  absl::StatusOr<bool> SnapshotExists(const VolumeLocation& w,
                                      const std::string& snap) override {
    return real_->SnapshotExists(w, snap);
  }
  absl::Status Clone(const VolumeLocation& parent, const std::string& snap,
                     const VolumeLocation& child) override {
    VOLCRYPT_RBD_FAULT_POINT("rbd.Clone");
    return plan_->After("rbd.Clone", real_->Clone(parent, snap, child));
  }
  absl::Status FormatNative(const VolumeLocation& w, LuksFormat format, int key_bits,
                            const SecretBytes& passphrase) override {
    VOLCRYPT_RBD_FAULT_POINT("rbd.FormatNative");
    return plan_->After("rbd.FormatNative",
                        real_->FormatNative(w, format, key_bits, passphrase));
  }
  absl::StatusOr<uint64_t> VerifyNative(const VolumeLocation& w, LuksFormat format,
                                        const SecretBytes& passphrase) override {
    return real_->VerifyNative(w, format, passphrase);
  }

  absl::StatusOr<std::unique_ptr<RawVolume>> OpenRaw(const VolumeLocation& w,
                                                     bool writable) override {
    return real_->OpenRaw(w, writable);
  }

 private:
  RbdBackend* real_;
  FaultPlan* plan_;
};

#undef VOLCRYPT_RBD_FAULT_POINT

}  // namespace testing
}  // namespace volcrypt

#endif  // VOLCRYPT_TESTS_SUPPORT_FAULTY_RBD_H_
