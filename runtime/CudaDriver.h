#pragma once
// The CUDA driver API, loaded from libcuda.so.1 at first use (never linked), so that every einfuse
// binary starts on a machine without a GPU. Knows nothing of the IR. Every failing driver call
// throws TargetError naming the call and the driver's message. No cuda.h here: handles are opaque.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace einfuse {

/** Whether a CUDA device can be used; if not, *why_not says why ("cannot load libcuda.so.1: ...",
 * "cuInit: CUDA_ERROR_STUB_LIBRARY ..."). Cheap after the first call. */
bool cuda_available(std::string *why_not = nullptr);

/** Facts about device 0 that plans read, queried without making a context. */
struct CudaDeviceFacts {
    std::string name;          // "NVIDIA H100 80GB HBM3"
    int compute_capability = 0; // 90
    int sm_count = 0;
    int shared_per_sm = 0;     // bytes
    int shared_per_block = 0;  // bytes a block may declare statically (48 KiB)
};
/** Device 0's facts, or false (nothing changed) where there is no usable device. Cheap after the
 * first call. */
bool cuda_device_facts(CudaDeviceFacts *facts);

/** Device 0 and its primary context. */
class CudaContext {
  public:
    /** The context, made current on the calling thread. Throws TargetError("no CUDA device: ..."). */
    static CudaContext &get();
    const std::string &arch() const { return arch_; } // "sm_90"
    const std::string &name() const { return name_; } // "NVIDIA H100 80GB HBM3"
    int compute_capability() const { return cc_; }    // 90
    void synchronize();                               // waits for all work on the device

    CudaContext(const CudaContext &) = delete;
    CudaContext &operator=(const CudaContext &) = delete;

  private:
    CudaContext();
    void *ctx_ = nullptr; // CUcontext
    std::string arch_, name_;
    int cc_ = 0;
};

/** A stream of the context that does not synchronize with the default stream, destroyed with
 * the object. */
class CudaStream {
  public:
    CudaStream();
    ~CudaStream();
    CudaStream(const CudaStream &) = delete;
    CudaStream &operator=(const CudaStream &) = delete;
    void *get() const { return stream_; } // a CUstream
    void synchronize();

  private:
    void *stream_ = nullptr;
};

/** Device memory, freed on destruction. Sizes and offsets are in bytes. */
class DeviceBuffer {
  public:
    DeviceBuffer() = default;
    explicit DeviceBuffer(std::size_t bytes);
    ~DeviceBuffer();
    DeviceBuffer(DeviceBuffer &&other) noexcept;
    DeviceBuffer &operator=(DeviceBuffer &&other) noexcept;

    void upload(const void *host, std::size_t bytes);
    void download(void *host, std::size_t bytes) const;
    void zero();
    std::uint64_t address() const { return ptr_; } // a CUdeviceptr: what a kernel's pointer argument gets
    std::size_t size() const { return bytes_; }

  private:
    std::uint64_t ptr_ = 0;
    std::size_t bytes_ = 0;
};

/** The most device memory DeviceBuffers held since the last reset (which sets it to what they
 * hold then). */
std::size_t device_peak_bytes();
void reset_device_peak_bytes();
/** What DeviceBuffers of the whole process hold now (compiled kernels keep their last call's). */
std::size_t device_bytes_held();

/** An opaque CUfunction. */
struct CudaFunction {
    void *handle = nullptr;
};

/** Code loaded into the context from a CUBIN (or NUL-terminated PTX), unloaded on destruction. */
class CudaModule {
  public:
    explicit CudaModule(const std::vector<char> &image);
    ~CudaModule();
    CudaModule(const CudaModule &) = delete;
    CudaModule &operator=(const CudaModule &) = delete;
    CudaFunction function(const std::string &name) const;

  private:
    void *module_ = nullptr; // CUmodule
};

/** Kernel arguments for cuLaunchKernel. Every parameter an einfuse kernel takes is 8 bytes (a
 * device pointer or a long long), so they live in one array that `pointers()` points into. */
class LaunchArgs {
  public:
    void add_pointer(const DeviceBuffer &b) { values_.push_back(b.address()); }
    void add_pointer(std::uint64_t device_address) { values_.push_back(device_address); }
    void add_i64(std::int64_t v) { values_.push_back(static_cast<std::uint64_t>(v)); }
    void **pointers(); // valid until the next add_*

  private:
    std::vector<std::uint64_t> values_;
    std::vector<void *> pointers_;
};

/** Queues f on `stream` (a CUstream; nullptr: the default stream). A grid of 0 launches nothing. */
void cuda_launch(CudaFunction f, std::int64_t grid, std::int64_t block, void **args, void *stream = nullptr,
                 std::int64_t grid_y = 1);

/** Milliseconds that `work` takes on `stream`, measured with CUDA events (waits for it). */
double cuda_time_ms(const std::function<void()> &work, void *stream = nullptr);

} // namespace einfuse
