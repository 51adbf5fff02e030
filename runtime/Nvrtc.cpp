#include "runtime/Nvrtc.h"

#include "support/DiskCache.h"
#include "support/Error.h"

#include <mutex>
#include <unordered_map>

#include <nvrtc.h>

#include <dlfcn.h>

#include <cstdlib>
#include <sys/stat.h>

namespace einfuse {

namespace {

// NVRTC is opened at first use, as cuBLASLt is (CublasLt.cpp): libeinfuse loads, and host code
// runs, on a machine without it. The entry points einfuse calls, looked up by name:
#define EINFUSE_NVRTC_FUNCTIONS(X)                                                                                     \
    X(nvrtcGetErrorString)                                                                                             \
    X(nvrtcVersion)                                                                                                    \
    X(nvrtcCreateProgram)                                                                                              \
    X(nvrtcDestroyProgram)                                                                                             \
    X(nvrtcCompileProgram)                                                                                             \
    X(nvrtcGetProgramLogSize)                                                                                          \
    X(nvrtcGetProgramLog)                                                                                              \
    X(nvrtcGetPTXSize)                                                                                                 \
    X(nvrtcGetPTX)                                                                                                     \
    X(nvrtcGetCUBINSize)                                                                                               \
    X(nvrtcGetCUBIN)

struct Library {
#define EINFUSE_NVRTC_MEMBER(name) decltype(&::name) name = nullptr;
    EINFUSE_NVRTC_FUNCTIONS(EINFUSE_NVRTC_MEMBER)
#undef EINFUSE_NVRTC_MEMBER
    std::string error; // why it cannot be used; empty when it can
};

/** $EINFUSE_NVRTC, else the toolkit's soname through the usual search, else the build's
 * toolkit folder, else /usr/local/cuda. */
Library load() {
    Library lib;
    const std::string built = std::string(EINFUSE_CUDA_LIBRARY_DIR) + "/" + EINFUSE_NVRTC_SONAME;
    const std::string usual = std::string("/usr/local/cuda/lib64/") + EINFUSE_NVRTC_SONAME;
    void *so = nullptr;
    for (const char *file : {static_cast<const char *>(std::getenv("EINFUSE_NVRTC")), static_cast<const char *>(EINFUSE_NVRTC_SONAME), built.c_str(), usual.c_str()})
        if (file && *file && (so = dlopen(file, RTLD_NOW | RTLD_LOCAL))) break;
    if (!so) {
        const char *why = dlerror();
        lib.error = std::string("cannot load NVRTC (" EINFUSE_NVRTC_SONAME ", or $EINFUSE_NVRTC): ") + (why ? why : "not found");
        return lib;
    }
#define EINFUSE_NVRTC_LOOKUP(name)                                                                                     \
    lib.name = reinterpret_cast<decltype(lib.name)>(dlsym(so, #name));                                                 \
    if (!lib.name) {                                                                                                   \
        lib.error = EINFUSE_NVRTC_SONAME " has no " #name;                                                             \
        return lib;                                                                                                    \
    }
    EINFUSE_NVRTC_FUNCTIONS(EINFUSE_NVRTC_LOOKUP)
#undef EINFUSE_NVRTC_LOOKUP
    return lib;
}

/** The loaded library, or TargetError saying why there is none. */
const Library &nvrtc() {
    static const Library lib = load();
    if (!lib.error.empty()) throw TargetError(lib.error);
    return lib;
}

void check(nvrtcResult r, const char *call) {
    if (r != NVRTC_SUCCESS) throw TargetError(std::string(call) + ": " + nvrtc().nvrtcGetErrorString(r));
}

bool is_dir(const std::string &path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

/** The toolkit's include folder: NVRTC 13 does not find its own headers (cuda_fp16.h) without it.
 * The build's toolkit first, then $CUDA_HOME, then the usual place; the GPU machine has the same. */
std::string cuda_include_dir() {
    std::vector<std::string> candidates = {EINFUSE_CUDA_INCLUDE_DIR};
    if (const char *home = std::getenv("CUDA_HOME")) candidates.push_back(std::string(home) + "/include");
    candidates.push_back("/usr/local/cuda/include");
    for (const auto &c : candidates)
        if (is_dir(c)) return c;
    return "";
}

/** Owns an nvrtcProgram, so that a throw on a failed compile does not leak it. */
class Program {
  public:
    explicit Program(const std::string &source) {
        check(nvrtc().nvrtcCreateProgram(&prog_, source.c_str(), "einfuse.cu", 0, nullptr, nullptr), "nvrtcCreateProgram");
    }
    ~Program() { nvrtc().nvrtcDestroyProgram(&prog_); }
    Program(const Program &) = delete;
    Program &operator=(const Program &) = delete;
    nvrtcProgram get() const { return prog_; }

    std::string log() const {
        std::size_t size = 0;
        if (nvrtc().nvrtcGetProgramLogSize(prog_, &size) != NVRTC_SUCCESS || size <= 1) return "";
        std::string text(size, '\0');
        nvrtc().nvrtcGetProgramLog(prog_, text.data());
        text.resize(size - 1); // drop the terminating NUL
        return text;
    }

  private:
    nvrtcProgram prog_ = nullptr;
};

void compile(const Program &prog, const std::string &gpu_arch, const NvrtcOptions &options) {
    std::vector<std::string> opts = {"--gpu-architecture=" + gpu_arch, "-std=c++17"};
    std::string include = cuda_include_dir();
    if (!include.empty()) {
        opts.push_back("--include-path=" + include);
        opts.push_back("--include-path=" + include + "/cccl"); // <cuda/std/...>
    }
    if (options.fast_math) opts.push_back("--use_fast_math");
    opts.insert(opts.end(), options.extra.begin(), options.extra.end());
    std::vector<const char *> argv;
    for (const auto &o : opts)
        argv.push_back(o.c_str());

    nvrtcResult r = nvrtc().nvrtcCompileProgram(prog.get(), static_cast<int>(argv.size()), argv.data());
    if (r != NVRTC_SUCCESS)
        throw TargetError("NVRTC could not compile the CUDA source for " + gpu_arch + " (" + nvrtc().nvrtcGetErrorString(r) +
                          "):\n" + prog.log());
}

/** "sm_90" and "compute_90" both name compute capability 9.0; PTX needs the compute_ form. */
std::string virtual_arch(const std::string &arch) {
    return arch.rfind("sm_", 0) == 0 ? "compute_" + arch.substr(3) : arch;
}

} // namespace

namespace {

/** What a CUBIN depends on: the source, the architecture, the options, the headers' folder, the
 * NVRTC that compiles it and einfuse itself. */
std::string cubin_key(const std::string &source, const std::string &arch, const NvrtcOptions &options) {
    std::string what = source + '\0' + arch + '\0' + (options.fast_math ? "fast" : "exact") + '\0';
    for (const auto &o : options.extra) what += o + '\0';
    what += cuda_include_dir() + '\0' + nvrtc_version() + '\0' + EINFUSE_VERSION;
    return content_hash(what);
}

/** CUBINs compiled by this process (NVRTC takes 30-300 ms a kernel; a lookup microseconds). */
struct MemoryCache {
    std::mutex mutex;
    std::unordered_map<std::string, std::vector<char>> cubins;
};
MemoryCache &memory_cache() {
    static MemoryCache cache;
    return cache;
}

std::vector<char> compile_cubin(const std::string &source, const std::string &arch, const NvrtcOptions &options) {
    Program prog(source);
    compile(prog, arch, options);
    std::size_t size = 0;
    check(nvrtc().nvrtcGetCUBINSize(prog.get(), &size), "nvrtcGetCUBINSize");
    std::vector<char> cubin(size);
    check(nvrtc().nvrtcGetCUBIN(prog.get(), cubin.data()), "nvrtcGetCUBIN");
    return cubin;
}

} // namespace

std::vector<char> cuda_cubin(const std::string &source, const std::string &arch, const NvrtcOptions &options) {
    if (arch.rfind("sm_", 0) != 0)
        throw TargetError("a CUBIN needs a real architecture such as sm_90, not '" + arch + "'");
    // In memory first, then on disk (shared by processes; see support/DiskCache.h), then NVRTC.
    const std::string key = cubin_key(source, arch, options);
    MemoryCache &memory = memory_cache();
    {
        std::lock_guard<std::mutex> lock(memory.mutex);
        if (auto it = memory.cubins.find(key); it != memory.cubins.end()) return it->second;
    }
    const DiskCache disk = DiskCache::from_environment("cuda");
    std::vector<char> cubin;
    if (auto stored = disk.load(key)) {
        cubin.assign(stored->begin(), stored->end());
    } else {
        cubin = compile_cubin(source, arch, options);
        disk.store(key, std::string_view(cubin.data(), cubin.size()));
    }
    std::lock_guard<std::mutex> lock(memory.mutex);
    memory.cubins.emplace(key, cubin);
    return cubin;
}

void forget_cached_cubins() {
    MemoryCache &memory = memory_cache();
    std::lock_guard<std::mutex> lock(memory.mutex);
    memory.cubins.clear();
}

std::string cuda_ptx(const std::string &source, const std::string &arch, const NvrtcOptions &options) {
    Program prog(source);
    compile(prog, virtual_arch(arch), options);
    std::size_t size = 0;
    check(nvrtc().nvrtcGetPTXSize(prog.get(), &size), "nvrtcGetPTXSize");
    std::string ptx(size, '\0');
    check(nvrtc().nvrtcGetPTX(prog.get(), ptx.data()), "nvrtcGetPTX");
    if (!ptx.empty() && ptx.back() == '\0') ptx.pop_back();
    return ptx;
}

std::string nvrtc_version() {
    int major = 0, minor = 0;
    check(nvrtc().nvrtcVersion(&major, &minor), "nvrtcVersion");
    return std::to_string(major) + "." + std::to_string(minor);
}

} // namespace einfuse
