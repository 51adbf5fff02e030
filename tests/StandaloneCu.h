#pragma once
// Runs an emitted .cu the way a user of the standalone file does: nvcc compiles it with a plain
// host program that uploads the inputs, calls the launcher and downloads the output. The inputs
// travel as raw files, so the caller checks the result against the reference on the same data.
//
// Building is the slow part (nvcc takes seconds per file), so the builds run in parallel:
// run_standalone_async writes the files at once and hands the build to a pool of
// EINFUSE_TEST_JOBS compilers (default: one per core); the programs themselves run one at a
// time (the GPU, or compute-sanitizer following the child processes, sees one at a time).
#include "support/Tensor.h"

#include <atomic>
#include <cstdio>
#include <sys/wait.h>
#include <cctype>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace einfuse::test {

inline const char *kNvcc = "/usr/local/cuda/bin/nvcc";

/** How run_standalone builds the program: nvcc for the GPU, or g++ with CudaHostEmulation.h
 * for the CPU (no GPU needed; see emulated_cu). */
enum class Runner { Nvcc, HostEmulation };

/** The emitted text as the host emulation compiles it: launches `k<<<grid, block, 0, s>>>(args);`
 * become einfuse_emu_launch(grid, block, [&] { k(args); }); inline PTX becomes the emulation's
 * functions; the runtime header is the emulation's. */
inline std::string emulated_cu(std::string text) {
    auto replace_all = [&](const std::string &from, const std::string &to) {
        for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
            text.replace(at, from.size(), to);
    };
    auto replace_statement = [&](const std::string &start, const std::string &end, const std::string &to) {
        for (std::size_t at = text.find(start); at != std::string::npos; at = text.find(start, at + to.size()))
            text.replace(at, text.find(end, at) + end.size() - at, to);
    };
    replace_all("#include <cuda_runtime.h>", "");
    replace_all("asm(\"cvt.rna.tf32.f32 %0, %1;\" : \"=r\"(r) : \"f\"(x));", "r = einfuse_emu_tf32(x);");
    replace_all("asm(\"ex2.approx.ftz.f32 %0, %1;\" : \"=f\"(y) : \"f\"(x * 1.4426950408889634f));",
                "y = exp2f(x * 1.4426950408889634f);");
    replace_statement("asm volatile(\"mma.sync.aligned.m16n8k8.row.col.f32.tf32", "\"r\"(b[1]));",
                      "einfuse_emu_mma<8, float>(d, a, b);");
    replace_statement("asm volatile(\"mma.sync.aligned.m16n8k16.row.col.f32.f16", "\"r\"(b[1]));",
                      "einfuse_emu_mma<16, __half>(d, a, b);");
    replace_statement("asm volatile(\"mma.sync.aligned.m16n8k16.row.col.f32.bf16", "\"r\"(b[1]));",
                      "einfuse_emu_mma<16, __nv_bfloat16>(d, a, b);");
    for (std::size_t at = text.find("<<<"); at != std::string::npos; at = text.find("<<<", at)) {
        std::size_t name = at;
        while (name > 0 && (std::isalnum(static_cast<unsigned char>(text[name - 1])) || text[name - 1] == '_')) --name;
        std::size_t cfg_end = text.find(">>>(", at);
        std::string cfg = text.substr(at + 3, cfg_end - at - 3);
        std::size_t comma = cfg.find(", "), comma2 = cfg.find(", ", comma + 2);
        std::size_t open = cfg_end + 3, close = open;
        for (int depth = 0; close < text.size(); ++close) {
            depth += text[close] == '(' ? 1 : text[close] == ')' ? -1 : 0;
            if (depth == 0) break;
        }
        std::string call = "einfuse_emu_launch(" + cfg.substr(0, comma) + ", " + cfg.substr(comma + 2, comma2 - comma - 2) +
                           ", [&] { " + text.substr(name, at - name) + text.substr(open, close + 1 - open) + "; })";
        text.replace(name, close + 1 - name, call);
        at = name + call.size();
    }
    return text;
}

/** stdout and stderr of a shell command, and its exit status. */
inline std::pair<int, std::string> sh(const std::string &cmd) {
    std::string out;
    FILE *p = ::popen((cmd + " 2>&1").c_str(), "r");
    if (!p) return {-1, "popen failed"};
    char buf[4096];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    int status = ::pclose(p);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

/** Runs `build`, then `program` when it built: {0, what the program printed}, or the failing
 * step's status and output. */
inline std::pair<int, std::string> build_then_run(const std::string &build, const std::string &program) {
    auto built = sh(build);
    if (built.first != 0) return {built.first, "build failed: " + built.second};
    return sh(program);
}

/** C for a host program around emitted files: `load(path, bytes)` gives device memory holding the
 * file's bytes (path NULL: uninitialised), `save(path, p, bytes)` synchronises and writes device
 * memory to a file; either exits 2-4 on failure. */
inline std::string device_file_helpers() {
    return "static void *load(const char *path, size_t bytes) {\n"
           "    void *p = NULL; if (cudaMalloc(&p, bytes ? bytes : 1) != cudaSuccess) exit(2);\n"
           "    if (path) {\n"
           "        void *host = malloc(bytes ? bytes : 1); FILE *f = fopen(path, \"rb\");\n"
           "        if (!f || fread(host, 1, bytes, f) != bytes) exit(3);\n"
           "        fclose(f); cudaMemcpy(p, host, bytes, cudaMemcpyHostToDevice); free(host);\n"
           "    }\n    return p;\n}\n"
           "static void save(const char *path, const void *p, size_t bytes) {\n"
           "    void *host = malloc(bytes ? bytes : 1);\n"
           "    if (cudaDeviceSynchronize() != cudaSuccess || cudaMemcpy(host, p, bytes, cudaMemcpyDeviceToHost) != cudaSuccess) exit(4);\n"
           "    FILE *f = fopen(path, \"wb\"); fwrite(host, 1, bytes, f); fclose(f); free(host);\n}\n";
}

/** A tensor as the launcher gets it: the host data and the device layout (shape, strides in
 * elements, and an offset in elements from a 256-byte aligned allocation, where the data starts). */
struct StandaloneTensor {
    const Tensor *host;            // dense, row-major; its bytes are uploaded as they are
    std::vector<int64_t> shape;    // what the launcher is told
    std::vector<int64_t> strides;  // likewise
    int64_t offset = 0;            // elements from the allocation's start
};

inline std::string int64_list(const std::vector<int64_t> &v) {
    std::string out;
    for (auto x : v) out += (out.empty() ? "" : ", ") + std::to_string(x) + "LL";
    return out.empty() ? "0" : out;
}

/** C lines (each after `pad`) declaring `<var>_shape`, `<var>_strides` and `<var>`, device memory
 * load()ed (device_file_helpers) from `file`, where t's bytes are written first; `file` empty:
 * uninitialised memory of t's size (an output). `*tensor` gets its einfuse_tensor initialiser. */
inline std::string device_tensor_lines(const Tensor &t, const std::string &file, const std::string &var,
                                       const std::string &pad, std::string *tensor) {
    if (!file.empty())
        std::ofstream(file, std::ios::binary).write(static_cast<const char *>(t.data()), static_cast<std::streamsize>(t.nbytes()));
    *tensor = "{" + var + ", " + std::to_string(t.rank()) + ", " + var + "_shape, " + var + "_strides}";
    return pad + "int64_t " + var + "_shape[] = {" + int64_list(t.shape()) + "}, " + var + "_strides[] = {" +
           int64_list(t.strides()) + "};\n" + pad + "void *" + var + " = load(" + (file.empty() ? "NULL" : "\"" + file + "\"") +
           ", " + std::to_string(t.nbytes()) + ");\n";
}


/** A standalone program written out and ready to build: its folder, the build command and the
 * size of the result it writes. */
struct StandaloneProgram {
    std::filesystem::path dir;
    std::string build;
    std::size_t out_bytes = 0;
};

/** Writes `cu`, the inputs and a host program that calls `<kernel>_launch` into a fresh folder. */
inline StandaloneProgram write_standalone(const std::string &cu, const std::string &kernel,
                                          const std::vector<StandaloneTensor> &inputs, const StandaloneTensor &output,
                                          const std::vector<int64_t> &sizes, std::size_t element_bytes, Runner runner) {
    static std::atomic<int> serial{0};
    auto dir = std::filesystem::temp_directory_path() /
               ("einfuse_standalone_" + std::to_string(::getpid()) + "_" + std::to_string(serial++));
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "kernel.cu") << (runner == Runner::Nvcc ? cu : emulated_cu(cu));
    std::string main = "#include \"kernel.cu\"\n#include <stdio.h>\n#include <stdlib.h>\n"
                       "static void *upload(const char *path, size_t bytes, size_t room) {\n"
                       "    char *host = (char *)calloc(room ? room : 1, 1); FILE *f = fopen(path, \"rb\");\n"
                       "    if (!f || fread(host + (room - bytes), 1, bytes, f) != bytes) exit(3); fclose(f);\n"
                       "    void *dev; if (cudaMalloc(&dev, room ? room : 1) != cudaSuccess) exit(4);\n"
                       "    cudaMemcpy(dev, host, room, cudaMemcpyHostToDevice); free(host); return dev; }\n"
                       "int main() {\n";
    std::string tensors;
    for (std::size_t i = 0; i <= inputs.size(); ++i) {
        const StandaloneTensor &t = i < inputs.size() ? inputs[i] : output;
        std::string n = std::to_string(i), file = (dir / ("t" + n + ".bin")).string();
        std::size_t bytes = t.host->size() * element_bytes;
        std::size_t room = bytes + static_cast<std::size_t>(t.offset) * element_bytes;
        if (i < inputs.size()) {
            std::ofstream f(file, std::ios::binary);
            f.write(static_cast<const char *>(t.host->data()), static_cast<std::streamsize>(bytes));
        } else {
            std::ofstream(file, std::ios::binary) << std::string(bytes, '\0');
        }
        main += "    int64_t shape" + n + "[] = {" + int64_list(t.shape) + "}, strides" + n + "[] = {" +
                int64_list(t.strides) + "};\n";
        main += "    char *d" + n + " = (char *)upload(\"" + file + "\", " + std::to_string(bytes) + ", " +
                std::to_string(room) + ");\n";
        tensors += "{d" + n + " + " + std::to_string(t.offset * static_cast<int64_t>(element_bytes)) + ", " +
                   std::to_string(t.shape.size()) + ", shape" + n + ", strides" + n + "}" +
                   (i + 1 < inputs.size() ? ", " : "");
        if (i + 1 == inputs.size()) tensors += "};\n    einfuse_tensor out = ";
    }
    std::string out_n = std::to_string(inputs.size());
    main += "    einfuse_tensor in[] = {" + tensors + ";\n";
    main += "    int64_t sizes[] = {" + int64_list(sizes) + "};\n";
    main += "    int rc = " + kernel + "_launch(in, " + std::to_string(inputs.size()) + ", &out, sizes, " +
            std::to_string(sizes.size()) + ", 0);\n";
    main += "    if (rc != EINFUSE_OK || cudaDeviceSynchronize() != cudaSuccess) { printf(\"launch %d\\n\", rc); "
            "return 1; }\n";
    std::size_t out_bytes = output.host->size() * element_bytes;
    main += "    char *back = (char *)malloc(" + std::to_string(out_bytes + 1) + ");\n";
    main += "    cudaMemcpy(back, d" + out_n + ", " + std::to_string(out_bytes) + ", cudaMemcpyDeviceToHost);\n";
    main += "    FILE *f = fopen(\"" + (dir / "result.bin").string() + "\", \"wb\"); fwrite(back, 1, " +
            std::to_string(out_bytes) + ", f); fclose(f);\n    return 0;\n}\n";
    std::ofstream(dir / "main.cu") << main;
    std::string build = runner == Runner::Nvcc
                            ? std::string(kNvcc) + " -arch=sm_90 -o " + (dir / "main").string() + " " + (dir / "main.cu").string()
                            : "g++ -std=c++20 -O1 -w -I/usr/local/cuda/include -include " EINFUSE_SOURCE_DIR
                              "/tests/CudaHostEmulation.h -x c++ -o " + (dir / "main").string() + " " + (dir / "main.cu").string() +
                                  " -pthread";
    build += " > " + (dir / "build.log").string() + " 2>&1";
    return {dir, build, out_bytes};
}

/** At most EINFUSE_TEST_JOBS (default: the number of cores) builds at once. */
class BuildSlots {
public:
    static BuildSlots &get() {
        static BuildSlots slots;
        return slots;
    }
    void acquire() {
        std::unique_lock<std::mutex> lock(mutex_);
        free_.wait(lock, [&] { return used_ < limit_; });
        ++used_;
    }
    void release() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            --used_;
        }
        free_.notify_one();
    }
    std::mutex &run_mutex() { return run_; } // the built programs run one at a time

private:
    BuildSlots() {
        const char *jobs = std::getenv("EINFUSE_TEST_JOBS");
        limit_ = jobs && std::atoi(jobs) > 0 ? std::atoi(jobs) : static_cast<int>(std::thread::hardware_concurrency());
        if (limit_ < 1) limit_ = 1;
    }
    std::mutex mutex_, run_;
    std::condition_variable free_;
    int used_ = 0, limit_ = 1;
};

/** Builds and runs a written program; returns the output's bytes. Throws std::runtime_error when
 * the build or the launch fails (the folder stays, with build.log). */
inline std::vector<char> build_and_run(const StandaloneProgram &p) {
    BuildSlots &slots = BuildSlots::get();
    slots.acquire();
    int built = std::system(p.build.c_str());
    slots.release();
    if (built != 0) throw std::runtime_error("nvcc failed: see " + (p.dir / "build.log").string());
    {
        std::lock_guard<std::mutex> lock(slots.run_mutex());
        if (std::system((p.dir / "main").string().c_str()) != 0) throw std::runtime_error("the standalone program failed");
    }
    std::ifstream in(p.dir / "result.bin", std::ios::binary);
    std::vector<char> result(p.out_bytes);
    in.read(result.data(), static_cast<std::streamsize>(p.out_bytes));
    std::filesystem::remove_all(p.dir);
    return result;
}

/** The output's bytes of a standalone program, once built (in parallel with others) and run;
 * nothing when nvcc is missing. get() rethrows a failed build or launch. */
using StandaloneResult = std::shared_future<std::optional<std::vector<char>>>;

/** Writes the program now and builds and runs it in the background: collect many, then get()
 * each. The tensors' data is written before it returns; they need not outlive the call. */
inline StandaloneResult run_standalone_async(const std::string &cu, const std::string &kernel,
                                             const std::vector<StandaloneTensor> &inputs, const StandaloneTensor &output,
                                             const std::vector<int64_t> &sizes, std::size_t element_bytes,
                                             Runner runner = Runner::Nvcc) {
    if (!std::filesystem::exists(kNvcc)) {
        std::promise<std::optional<std::vector<char>>> none;
        none.set_value(std::nullopt);
        return none.get_future().share();
    }
    StandaloneProgram p = write_standalone(cu, kernel, inputs, output, sizes, element_bytes, runner);
    return std::async(std::launch::async, [p]() -> std::optional<std::vector<char>> { return build_and_run(p); })
        .share();
}

/** Compiles `cu` with a host program that calls `<kernel>_launch` and returns the output's bytes
 * (dense, `element_bytes` each) or nothing when nvcc is missing. Throws std::runtime_error when
 * the build or the launch fails. */
inline std::optional<std::vector<char>> run_standalone(const std::string &cu, const std::string &kernel,
                                                       const std::vector<StandaloneTensor> &inputs,
                                                       const StandaloneTensor &output, const std::vector<int64_t> &sizes,
                                                       std::size_t element_bytes, Runner runner = Runner::Nvcc) {
    return run_standalone_async(cu, kernel, inputs, output, sizes, element_bytes, runner).get();
}

} // namespace einfuse::test
