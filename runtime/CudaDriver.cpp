#include "runtime/CudaDriver.h"

#include "support/Error.h"

#include <cuda.h> // types and signatures only: every call goes through the table below
#include <dlfcn.h>

#include <atomic>

#include <mutex>

namespace einfuse {

namespace {

// The driver entry points einfuse uses, looked up by their versioned names: cuda.h maps
// cuMemAlloc to cuMemAlloc_v2 and so on, and dlsym sees only the real symbol names.
#define EINFUSE_DRIVER_FUNCTIONS(X)                                                                                    \
    X(cuInit)                                                                                                          \
    X(cuGetErrorName)                                                                                                  \
    X(cuGetErrorString)                                                                                                \
    X(cuDeviceGetCount)                                                                                                \
    X(cuDeviceGet)                                                                                                     \
    X(cuDeviceGetName)                                                                                                 \
    X(cuDeviceGetAttribute)                                                                                            \
    X(cuDevicePrimaryCtxRetain)                                                                                        \
    X(cuCtxSetCurrent)                                                                                                 \
    X(cuCtxSynchronize)                                                                                                \
    X(cuMemAlloc_v2)                                                                                                   \
    X(cuMemFree_v2)                                                                                                    \
    X(cuMemcpyHtoD_v2)                                                                                                 \
    X(cuMemcpyDtoH_v2)                                                                                                 \
    X(cuMemsetD8_v2)                                                                                                   \
    X(cuModuleLoadData)                                                                                                \
    X(cuModuleUnload)                                                                                                  \
    X(cuModuleGetFunction)                                                                                             \
    X(cuLaunchKernel)                                                                                                  \
    X(cuStreamSynchronize)                                                                                             \
    X(cuStreamCreate)                                                                                                  \
    X(cuStreamDestroy_v2)                                                                                              \
    X(cuEventCreate)                                                                                                   \
    X(cuEventDestroy_v2)                                                                                               \
    X(cuEventRecord)                                                                                                   \
    X(cuEventSynchronize)

struct Driver {
#define EINFUSE_FIELD(name) decltype(&::name) name = nullptr;
    EINFUSE_DRIVER_FUNCTIONS(EINFUSE_FIELD)
#undef EINFUSE_FIELD
    // cuda.h 13 maps cuEventElapsedTime to _v2 (drivers from 12.8 on); older drivers have only
    // the plain name, with the same signature.
    CUresult (*cuEventElapsedTime)(float *, CUevent, CUevent) = nullptr;

    std::string unavailable; // why the device cannot be used; empty when it can
};

std::string result_text(const Driver &d, CUresult r) {
    const char *name = nullptr, *text = nullptr;
    if (d.cuGetErrorName) d.cuGetErrorName(r, &name);
    if (d.cuGetErrorString) d.cuGetErrorString(r, &text);
    // The stub library answers every call, cuGetErrorName included, with this very code.
    if (!name && r == CUDA_ERROR_STUB_LIBRARY)
        return "CUDA_ERROR_STUB_LIBRARY: libcuda.so.1 is the toolkit's stub, not a driver";
    return std::string(name ? name : "CUDA error " + std::to_string(static_cast<int>(r))) +
           (text ? ": " + std::string(text) : "");
}

/** Loads the library and every symbol, then cuInit and a device count; the first failure becomes
 * `unavailable`. Runs once per process. */
Driver load_driver() {
    Driver d;
    void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        const char *err = dlerror();
        d.unavailable = std::string("cannot load libcuda.so.1 (") + (err ? err : "unknown error") + ")";
        return d;
    }
#define EINFUSE_LOOKUP(name)                                                                                           \
    d.name = reinterpret_cast<decltype(d.name)>(dlsym(lib, #name));                                                    \
    if (!d.name) {                                                                                                     \
        d.unavailable = "libcuda.so.1 has no " #name " (driver too old?)";                                             \
        return d;                                                                                                      \
    }
    EINFUSE_DRIVER_FUNCTIONS(EINFUSE_LOOKUP)
#undef EINFUSE_LOOKUP
    void *elapsed = dlsym(lib, "cuEventElapsedTime_v2");
    if (!elapsed) elapsed = dlsym(lib, "cuEventElapsedTime");
    d.cuEventElapsedTime = reinterpret_cast<decltype(d.cuEventElapsedTime)>(elapsed);
    if (!d.cuEventElapsedTime) {
        d.unavailable = "libcuda.so.1 has no cuEventElapsedTime";
        return d;
    }
    if (CUresult r = d.cuInit(0); r != CUDA_SUCCESS) {
        d.unavailable = "cuInit: " + result_text(d, r);
        return d;
    }
    int count = 0;
    if (CUresult r = d.cuDeviceGetCount(&count); r != CUDA_SUCCESS)
        d.unavailable = "cuDeviceGetCount: " + result_text(d, r);
    else if (count == 0)
        d.unavailable = "the driver reports 0 devices";
    return d;
}

const Driver &driver() {
    static const Driver d = load_driver(); // thread-safe, once
    return d;
}

/** The table, or TargetError("no CUDA device: ...") when the device cannot be used. */
const Driver &usable_driver() {
    const Driver &d = driver();
    if (!d.unavailable.empty()) throw TargetError("no CUDA device: " + d.unavailable);
    return d;
}

void check(CUresult r, const char *call) {
    if (r != CUDA_SUCCESS) throw TargetError(std::string(call) + ": " + result_text(driver(), r));
}

} // namespace

bool cuda_available(std::string *why_not) {
    const Driver &d = driver();
    if (why_not) *why_not = d.unavailable;
    return d.unavailable.empty();
}

bool cuda_device_facts(CudaDeviceFacts *facts) {
    static const CudaDeviceFacts known = [] {
        CudaDeviceFacts f;
        const Driver &d = driver();
        CUdevice dev = 0;
        if (!d.unavailable.empty() || d.cuDeviceGet(&dev, 0) != CUDA_SUCCESS) return f;
        char name[256] = {};
        int major = 0, minor = 0;
        if (d.cuDeviceGetName(name, sizeof name, dev) != CUDA_SUCCESS ||
            d.cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev) != CUDA_SUCCESS ||
            d.cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev) != CUDA_SUCCESS ||
            d.cuDeviceGetAttribute(&f.sm_count, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev) != CUDA_SUCCESS ||
            d.cuDeviceGetAttribute(&f.shared_per_sm, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR, dev) !=
                CUDA_SUCCESS ||
            d.cuDeviceGetAttribute(&f.shared_per_block, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK, dev) !=
                CUDA_SUCCESS)
            return CudaDeviceFacts{};
        f.name = name;
        f.compute_capability = major * 10 + minor;
        return f;
    }();
    if (known.compute_capability == 0) return false;
    *facts = known;
    return true;
}

// ---- context ----------------------------------------------------------------------------------

CudaContext::CudaContext() {
    const Driver &d = usable_driver();
    CUdevice dev = 0;
    check(d.cuDeviceGet(&dev, 0), "cuDeviceGet");
    CUcontext ctx = nullptr;
    // The primary context is the one the CUDA runtime (PyTorch, CuPy) uses too, so buffers pass
    // between them. It is never released: at exit the driver may already be going away.
    check(d.cuDevicePrimaryCtxRetain(&ctx, dev), "cuDevicePrimaryCtxRetain");
    ctx_ = ctx;
    char name[256] = {};
    check(d.cuDeviceGetName(name, sizeof name, dev), "cuDeviceGetName");
    name_ = name;
    int major = 0, minor = 0;
    check(d.cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev), "cuDeviceGetAttribute");
    check(d.cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev), "cuDeviceGetAttribute");
    cc_ = major * 10 + minor;
    arch_ = "sm_" + std::to_string(cc_);
}

CudaContext &CudaContext::get() {
    usable_driver(); // throws "no CUDA device: ..." before anything else is tried
    static CudaContext instance;
    // A context is current per thread: a worker thread that launches needs it set once.
    thread_local bool current = false;
    if (!current) {
        check(driver().cuCtxSetCurrent(static_cast<CUcontext>(instance.ctx_)), "cuCtxSetCurrent");
        current = true;
    }
    return instance;
}

void CudaContext::synchronize() { check(driver().cuCtxSynchronize(), "cuCtxSynchronize"); }

// ---- memory -----------------------------------------------------------------------------------

namespace {
std::atomic<std::size_t> held_bytes{0}, peak_bytes{0};
} // namespace

std::size_t device_peak_bytes() { return peak_bytes.load(); }
void reset_device_peak_bytes() { peak_bytes.store(held_bytes.load()); }
std::size_t device_bytes_held() { return held_bytes.load(); }

DeviceBuffer::DeviceBuffer(std::size_t bytes) : bytes_(bytes) {
    CudaContext::get();
    CUdeviceptr p = 0;
    // cuMemAlloc rejects 0 bytes; an empty buffer keeps address 0 and is never dereferenced.
    if (bytes > 0) check(driver().cuMemAlloc_v2(&p, bytes), "cuMemAlloc");
    ptr_ = p;
    std::size_t now = held_bytes += bytes, peak = peak_bytes.load();
    while (now > peak && !peak_bytes.compare_exchange_weak(peak, now)) {
    }
}

DeviceBuffer::~DeviceBuffer() {
    if (!ptr_) return;
    driver().cuMemFree_v2(static_cast<CUdeviceptr>(ptr_)); // no throw from a destructor
    held_bytes -= bytes_;
}

DeviceBuffer::DeviceBuffer(DeviceBuffer &&o) noexcept : ptr_(o.ptr_), bytes_(o.bytes_) {
    o.ptr_ = 0;
    o.bytes_ = 0;
}

DeviceBuffer &DeviceBuffer::operator=(DeviceBuffer &&o) noexcept {
    if (this != &o) {
        this->~DeviceBuffer();
        ptr_ = o.ptr_;
        bytes_ = o.bytes_;
        o.ptr_ = 0;
        o.bytes_ = 0;
    }
    return *this;
}

void DeviceBuffer::upload(const void *host, std::size_t bytes) {
    EINFUSE_ASSERT(bytes <= bytes_, "upload fits the buffer");
    if (bytes > 0) check(driver().cuMemcpyHtoD_v2(ptr_, host, bytes), "cuMemcpyHtoD");
}

void DeviceBuffer::download(void *host, std::size_t bytes) const {
    EINFUSE_ASSERT(bytes <= bytes_, "download fits the buffer");
    if (bytes > 0) check(driver().cuMemcpyDtoH_v2(host, ptr_, bytes), "cuMemcpyDtoH");
}

void DeviceBuffer::zero() {
    if (bytes_ > 0) check(driver().cuMemsetD8_v2(ptr_, 0, bytes_), "cuMemsetD8");
}

// ---- modules and launches ---------------------------------------------------------------------

CudaModule::CudaModule(const std::vector<char> &image) {
    CudaContext::get();
    CUmodule m = nullptr;
    check(driver().cuModuleLoadData(&m, image.data()), "cuModuleLoadData");
    module_ = m;
}

CudaModule::~CudaModule() {
    if (module_) driver().cuModuleUnload(static_cast<CUmodule>(module_));
}

CudaFunction CudaModule::function(const std::string &name) const {
    CUfunction f = nullptr;
    CUresult r = driver().cuModuleGetFunction(&f, static_cast<CUmodule>(module_), name.c_str());
    if (r != CUDA_SUCCESS) throw TargetError("cuModuleGetFunction(" + name + "): " + result_text(driver(), r));
    return CudaFunction{f};
}

void **LaunchArgs::pointers() {
    pointers_.clear();
    for (auto &v : values_)
        pointers_.push_back(&v);
    return pointers_.data();
}

void cuda_launch(CudaFunction f, std::int64_t grid, std::int64_t block, void **args, void *stream, std::int64_t grid_y) {
    if (grid == 0) return;
    EINFUSE_ASSERT(grid > 0 && grid <= 0x7fffffff && block > 0 && block <= 1024 && grid_y > 0 && grid_y <= 65535,
                   "a launch shape the driver accepts");
    check(driver().cuLaunchKernel(static_cast<CUfunction>(f.handle), static_cast<unsigned>(grid),
                                  static_cast<unsigned>(grid_y), 1,
                                  static_cast<unsigned>(block), 1, 1, 0, static_cast<CUstream>(stream), args, nullptr),
          "cuLaunchKernel");
}

// ---- timing -----------------------------------------------------------------------------------

namespace {

/** Owns a CUevent. */
class Event {
  public:
    Event() { check(driver().cuEventCreate(&e_, CU_EVENT_DEFAULT), "cuEventCreate"); }
    ~Event() { driver().cuEventDestroy_v2(e_); }
    Event(const Event &) = delete;
    Event &operator=(const Event &) = delete;
    CUevent get() const { return e_; }

  private:
    CUevent e_ = nullptr;
};

} // namespace

CudaStream::CudaStream() {
    CudaContext::get();
    CUstream s = nullptr;
    check(driver().cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
    stream_ = s;
}

CudaStream::~CudaStream() {
    if (stream_) driver().cuStreamDestroy_v2(static_cast<CUstream>(stream_));
}

void CudaStream::synchronize() { check(driver().cuStreamSynchronize(static_cast<CUstream>(stream_)), "cuStreamSynchronize"); }

double cuda_time_ms(const std::function<void()> &work, void *stream) {
    CudaContext::get();
    Event start, stop;
    auto s = static_cast<CUstream>(stream);
    check(driver().cuEventRecord(start.get(), s), "cuEventRecord");
    work();
    check(driver().cuEventRecord(stop.get(), s), "cuEventRecord");
    check(driver().cuEventSynchronize(stop.get()), "cuEventSynchronize");
    float ms = 0;
    check(driver().cuEventElapsedTime(&ms, start.get(), stop.get()), "cuEventElapsedTime");
    return ms;
}

} // namespace einfuse
