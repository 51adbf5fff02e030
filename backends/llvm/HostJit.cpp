// The host backend's driver: print the kernels (CodeGen.cpp), optimise them for the host CPU
// (O3, the packed GEMM's lean pipeline, or O2 for small calls), hand the modules to ORC's LLJIT
// and resolve every kernel. PassBuilder.h and LLJIT.h take seconds to parse; they stay in this
// one file.
//
// Exceptions never cross LLVM frames: every llvm::Error/Expected is converted to a TargetError
// here, in our own frames, after LLVM has returned.
#include "backends/llvm/HostJit.h"

#include "backends/llvm/CodeGen.h"
#include "backends/llvm/Contraction.h"
#include "backends/llvm/Workspace.h"
#include "backends/llvm/GemmCodeGen.h"
#include "backends/llvm/GemmShare.h"
#include "backends/llvm/ScalarOps.h"
#include "ir/Walk.h"
#include "support/DiskCache.h"
#include "support/Error.h"

#include <llvm/Config/llvm-config.h>
#include <llvm/ExecutionEngine/Orc/CompileUtils.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/ThreadSafeModule.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/Verifier.h>
#include <llvm/MC/MCSubtargetInfo.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/CommandLine.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

namespace einfuse::llvm_backend {

namespace {

std::string describe(llvm::Error e) { return llvm::toString(std::move(e)); }

template <class T> T take(llvm::Expected<T> value, const char *doing) {
    if (!value) throw TargetError(std::string("host backend: ") + doing + ": " + describe(value.takeError()));
    return std::move(*value);
}

void check(llvm::Error e, const char *doing) {
    if (e) throw TargetError(std::string("host backend: ") + doing + ": " + describe(std::move(e)));
}

/** The object a cache returned did not load: compile() drops it and compiles afresh. */
struct CachedObjectFailed : TargetError {
    using TargetError::TargetError;
};

/** Code generation's loop strength reduction took 58% of the packed GEMM's compile time
 * (llc -time-passes: 50 of 87 ms for f64 512^3). Without it the GEMM ran as fast in one set of
 * alternating runs (8.8-12.3 against 8.8-12.0 ms at 512^3, 85-89 against 85-87 ms at 1024^3)
 * and 0-6% slower in another (medians 8.95 against 8.55 ms at 512^3 on one thread, both at load
 * average 140-150); the unrolled and broadcast-reduce kernels measured (bmm D=3, 4; the Gaussian
 * sum; ijk,k->ij) ran as fast: their addresses are already affine in one induction variable
 * each. It is LLVM's process-wide option, set once, before any compile. */
void disable_loop_strength_reduction() {
    auto &options = llvm::cl::getRegisteredOptions();
    if (auto it = options.find("disable-lsr"); it != options.end())
        if (auto *opt = static_cast<llvm::cl::opt<bool> *>(it->second)) opt->setValue(true);
}

/** LLVM's target registry is process-wide: initialise the native target exactly once, whichever
 * thread compiles first. */
void initialize_native_target() {
    static std::once_flag once;
    static bool failed = false;
    std::call_once(once, [] {
        disable_loop_strength_reduction();
        failed = llvm::InitializeNativeTarget() || llvm::InitializeNativeTargetAsmPrinter() ||
                 llvm::InitializeNativeTargetAsmParser();
    });
    if (failed) throw TargetError("host backend: LLVM has no code generator for this machine's CPU");
}

/** This machine's CPU with all its features (AVX2, AVX-512, ...), code generation at -O3. */
llvm::orc::JITTargetMachineBuilder host_machine() {
    initialize_native_target();
    auto jtmb = take(llvm::orc::JITTargetMachineBuilder::detectHost(), "detecting the host CPU");
    jtmb.setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
    return jtmb;
}

/** Which optimisation pipeline a module gets. */
enum class Pipeline {
    /** The new pass manager's O3, with both vectorisers on (PipelineTuningOptions leaves SLP
     * off by default; clang and opt switch it on at O3): loop nests, which LLVM vectorises. */
    O3,
    /** The packed GEMM, vectorised as printed (GemmCodeGen.cpp): what it needs of O3 (allocas to
     * registers, CSE, hoisting, O3's loop unrolling), not the vectorisers, inliner or loop
     * rotation. opt -time-passes on the f64 GEMM: 8-18 ms against O3's 45-51, and 10-25% less
     * code generation; run time as fast (ij,jk->ik, one thread, 5 alternating runs: f32 512^2
     * 2.44 against 2.55 ms, f64 512^2 4.09 / 5.09, f64 1024^2 32.1 / 32.7 ms medians; without
     * the unrolling f32 1024^2 ran 10% slower). */
    HandVectorised,
    /** LLVM's O2 (vectorisers on, as set below; lower unrolling thresholds than O3, no
     * aggressive InstCombine or argument promotion) for kernels the caller calls small
     * (HostModule::compile's `quick`): less CPU time to compile the small kernels of
     * opt_einsum's cases, whose calls ran as fast in alternating runs; O1 compiled a little
     * faster still, but those calls ran 4-6% slower (docs/performance.md). */
    Quick,
    /** CodeTier::Cold: the cleanup passes below, and code generation at -O1 (-O0's fast
     * register allocation made `abc,bdef,fghj,cem,mhk,ljk->adgl`'s run 2x slower: ColdSmall,
     * for short runs only). First calls,
     * Zen 4 VM: that case 40-44 ms instead of 141, `acdf,jbje,..` 57 instead of 100-131, their
     * runs as fast as O3's; bmm's unrolled kernels ran 6-20x slower (LLVM's vectorisers write
     * their lanes), so exec/HostTiers uses this tier only where that cannot cost much. */
    Cold,
    /** CodeTier::ColdSmall: Cold's passes, code generation at -O0. First calls, Zen 3 VM (a
     * slower compiler than the Zen 4's), fresh processes: `abc,bdef,fghj,cem,mhk,ljk->adgl` 39 ms
     * instead of 80, `acdf,jbje,..` 63 instead of 116, `ea,fb,abcd,gc,hd->efgh` 27 instead of
     * 74; the second calls, still on this code, 0.3-1.0 ms against 0.3-0.7. */
    ColdSmall,
    /** The packed GEMM's CodeTier::Cold: HandVectorised without its loop unrolling. First
     * calls of `ij,jk->ik` at 512^2, Zen 4 VM: 37 ms instead of 66, the run 0-4% slower (f64
     * 5.9-6.0 against 5.8-6.1 ms, f32 3.12-3.15 against 3.01-3.12); at 1024^2 79 ms instead of
     * 110, the run as fast. */
    GemmCold,
};
constexpr const char *kGemmColdPipeline =
    "function(sroa,early-cse,instcombine<no-verify-fixpoint>,simplifycfg,loop-mssa(licm),gvn,"
    "instcombine<no-verify-fixpoint>,simplifycfg)";
constexpr const char *kColdPipeline = "function(sroa,early-cse,instcombine<no-verify-fixpoint>,simplifycfg)";
/** `instcombine` named in a pipeline's text checks, by default, that one iteration reached its
 * fixpoint, and aborts the process with "LLVM ERROR: Instruction Combining did not reach a
 * fixpoint" where it did not (a check meant for LLVM's own tests: on an AMD EPYC, znver3, the
 * packed GEMM's code needs a second iteration). The default pipelines never check. */
constexpr const char *kHandVectorisedPipeline =
    "function(sroa,early-cse,instcombine<no-verify-fixpoint>,simplifycfg,loop-mssa(licm),gvn,loop-unroll<O3>,"
    "instcombine<no-verify-fixpoint>,simplifycfg)";

/** HandVectorised when every kernel is a packed GEMM, else the tier's. */
Pipeline pipeline_for(const std::vector<ir::Kernel> &kernels, CodeTier tier = CodeTier::Full) {
    for (const auto &k : kernels)
        if (!k.gemm || !k.gemm->host_packed)
            return tier == CodeTier::Cold        ? Pipeline::Cold
                   : tier == CodeTier::ColdSmall ? Pipeline::ColdSmall
                   : tier == CodeTier::Quick     ? Pipeline::Quick
                                                 : Pipeline::O3;
    if (kernels.empty()) return Pipeline::O3;
    return tier == CodeTier::Cold || tier == CodeTier::ColdSmall ? Pipeline::GemmCold : Pipeline::HandVectorised;
}

const char *pipeline_name(Pipeline p) {
    switch (p) {
    case Pipeline::O3: return "O3 loop+slp vectorise";
    case Pipeline::Quick: return "O2 loop+slp vectorise";
    case Pipeline::Cold: return "cold: sroa early-cse instcombine simplifycfg, codegen O1";
    case Pipeline::ColdSmall: return "cold: sroa early-cse instcombine simplifycfg, codegen O0";
    case Pipeline::GemmCold: return kGemmColdPipeline;
    case Pipeline::HandVectorised: break;
    }
    return kHandVectorisedPipeline;
}

/** Code generation's level for a pipeline: -O0 or -O1 for cold code, else -O3. */
llvm::CodeGenOptLevel codegen_level(Pipeline p) {
    if (p == Pipeline::ColdSmall) return llvm::CodeGenOptLevel::None;
    return p == Pipeline::Cold ? llvm::CodeGenOptLevel::Less : llvm::CodeGenOptLevel::Aggressive;
}

void optimize(llvm::Module &m, llvm::TargetMachine &tm, Pipeline pipeline, const std::atomic<bool> *cancel = nullptr) {
    llvm::LoopAnalysisManager lam;
    llvm::FunctionAnalysisManager fam;
    llvm::CGSCCAnalysisManager cgam;
    llvm::ModuleAnalysisManager mam;
    llvm::PipelineTuningOptions tuning;
    tuning.LoopVectorization = true;
    tuning.SLPVectorization = true;
    // A cancelled compile skips every pass it may (the required ones, few and cheap, still run).
    llvm::PassInstrumentationCallbacks callbacks;
    if (cancel) callbacks.registerShouldRunOptionalPassCallback([cancel](llvm::StringRef, llvm::Any) { return !cancel->load(); });
    llvm::PassBuilder pb(&tm, tuning, std::nullopt, cancel ? &callbacks : nullptr); // with tm, the cost models know the host's vector width
    pb.registerModuleAnalyses(mam);
    pb.registerCGSCCAnalyses(cgam);
    pb.registerFunctionAnalyses(fam);
    pb.registerLoopAnalyses(lam);
    pb.crossRegisterProxies(lam, fam, cgam, mam);
    if (pipeline == Pipeline::O3) return void(pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O3).run(m, mam));
    if (pipeline == Pipeline::Quick) return void(pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O2).run(m, mam));
    const char *text = pipeline == Pipeline::Cold || pipeline == Pipeline::ColdSmall ? kColdPipeline
                       : pipeline == Pipeline::GemmCold ? kGemmColdPipeline
                                                        : kHandVectorisedPipeline;
    llvm::ModulePassManager mpm;
    if (auto e = pb.parsePassPipeline(mpm, text))
        throw InternalError(std::string("host backend: the pipeline '") + text + "' does not parse: " + describe(std::move(e)));
    mpm.run(m, mam);
}

/** The widest vector registers the features allow: the lane count of hand-vectorised loops. */
int vector_bits(const std::string &features) {
    auto has = [&](const char *f) { return ("," + features + ",").find(std::string(",+") + f + ",") != std::string::npos; };
    if (has("avx512f")) return 512;
    if (has("avx2") || has("avx")) return 256;
    if (has("sse2")) return 128;
    return 0;
}

/** The widest vectors of a CPU named without its features ("znver4"), as LLVM's table of CPUs
 * has them. */
int named_cpu_vector_bits(const llvm::orc::JITTargetMachineBuilder &jtmb) {
    std::string error;
    const llvm::Target *t = llvm::TargetRegistry::lookupTarget(jtmb.getTargetTriple().str(), error);
    if (!t) throw TargetError("host backend: no LLVM target for " + jtmb.getTargetTriple().str() + ": " + error);
    std::unique_ptr<llvm::MCSubtargetInfo> sti(t->createMCSubtargetInfo(jtmb.getTargetTriple().str(), jtmb.getCPU(), ""));
    if (!sti || !sti->isCPUStringValid(jtmb.getCPU()))
        throw TargetError("host backend: LLVM does not know the CPU '" + jtmb.getCPU() + "'");
    for (auto [feature, bits] : {std::pair<const char *, int>{"+avx512f", 512}, {"+avx2", 256}, {"+avx", 256}, {"+sse2", 128}})
        if (sti->checkFeatures(feature)) return bits;
    return 0;
}

/** The machine for `target`: this host when it names no CPU or this CPU with its detected
 * features, else the named CPU with LLVM's features for it (code for another machine, to print). */
llvm::orc::JITTargetMachineBuilder machine_for(const ir::Target &target) {
    auto jtmb = host_machine();
    if (target.cpu.empty() || (target.cpu == jtmb.getCPU() && !target.features.empty())) return jtmb;
    llvm::orc::JITTargetMachineBuilder named(jtmb.getTargetTriple());
    named.setCPU(target.cpu);
    named.setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
    return named;
}

/** The CPU as the printer needs it: its name, its features as `jtmb` has them (empty for a CPU
 * named without its features: then LLVM takes that CPU's own), its widest vectors. */
HostTarget host_target_of(const llvm::orc::JITTargetMachineBuilder &jtmb) {
    std::string features = jtmb.getFeatures().getString();
    return HostTarget{jtmb.getCPU(), features, features.empty() ? named_cpu_vector_bits(jtmb) : vector_bits(features)};
}

/** Prints every kernel into a fresh module for the host and checks it; not yet optimised. */
std::unique_ptr<llvm::Module> print_module(const std::vector<ir::Kernel> &kernels, llvm::LLVMContext &ctx,
                                           const llvm::orc::JITTargetMachineBuilder &jtmb, llvm::TargetMachine &tm) {
    auto m = std::make_unique<llvm::Module>("einfuse", ctx);
    m->setDataLayout(tm.createDataLayout());
    m->setTargetTriple(tm.getTargetTriple().str());
    HostTarget target = host_target_of(jtmb);
    for (const auto &k : kernels)
        emit_kernel(k, target, *m);
    make_contractions_explicit(*m);

    std::string problems;
    llvm::raw_string_ostream os(problems);
    if (llvm::verifyModule(*m, &os)) throw InternalError("host backend printed invalid LLVM IR: " + os.str());
    return m;
}

std::unique_ptr<llvm::Module> build_module(const std::vector<ir::Kernel> &kernels, llvm::LLVMContext &ctx,
                                           const llvm::orc::JITTargetMachineBuilder &jtmb, llvm::TargetMachine &tm) {
    auto m = print_module(kernels, ctx, jtmb, tm);
    optimize(*m, tm, pipeline_for(kernels));
    return m;
}

/** What the machine code depends on: the IR as printed (it names every kernel and holds every
 * size fixed at planning), the CPU and its features, the pipeline's options, the versions. */
std::string cache_key(const llvm::Module &m, const llvm::orc::JITTargetMachineBuilder &jtmb, Pipeline pipeline) {
    std::string text = "einfuse " EINFUSE_VERSION "; LLVM " LLVM_VERSION_STRING "; " + std::string(pipeline_name(pipeline)) + "; " +
                       m.getTargetTriple() + "; " + jtmb.getCPU() + "; " + jtmb.getFeatures().getString() + "\n";
    llvm::raw_string_ostream os(text);
    m.print(os, nullptr);
    return content_hash(os.str());
}

/** EINFUSE_TIME_PASSES=1: the backend's phases on stderr, beside the passes' timings. */
class PhaseTimer {
  public:
    explicit PhaseTimer(const char *what) : what_(what), start_(std::chrono::steady_clock::now()) {}
    ~PhaseTimer() {
        static const bool on = [] {
            const char *e = std::getenv("EINFUSE_TIME_PASSES");
            return e && std::string(e) == "1";
        }();
        if (!on) return;
        std::chrono::duration<double, std::micro> us = std::chrono::steady_clock::now() - start_;
        std::fprintf(stderr, "einfuse: host backend %s: %.3f us\n", what_, us.count());
    }

  private:
    const char *what_;
    std::chrono::steady_clock::time_point start_;
};

/** Object code for the module: from this process's memory, else from the disk cache, else
 * optimised and compiled here (and then kept in both). `fresh` skips and drops both caches'
 * entries (their object did not load); `*cached` says whether a cache answered. */
std::string object_code(std::unique_ptr<llvm::Module> m, const llvm::orc::JITTargetMachineBuilder &jtmb,
                        llvm::TargetMachine &tm, Pipeline pipeline, bool fresh, bool *cached,
                        const std::atomic<bool> *cancel = nullptr) {
    static std::mutex lock;
    static std::map<std::string, std::string> memory;
    std::string key = cache_key(*m, jtmb, pipeline);
    DiskCache disk = DiskCache::from_environment("host");
    *cached = true;
    {
        std::lock_guard<std::mutex> hold(lock);
        if (fresh) memory.erase(key);
        else if (auto it = memory.find(key); it != memory.end()) return it->second;
    }
    if (fresh) disk.remove(key);
    std::optional<std::string> bytes = fresh ? std::nullopt : disk.load(key);
    if (!bytes) {
        *cached = false;
        {
            PhaseTimer t("optimize");
            optimize(*m, tm, pipeline, cancel);
        }
        if (cancel && cancel->load()) throw CompileCancelled(); // half-optimised: never cached
        PhaseTimer t("machine code");
        llvm::orc::SimpleCompiler compile(tm);
        auto object = take(compile(*m), "generating machine code");
        bytes = std::string(object->getBuffer());
        disk.store(key, *bytes);
    }
    std::lock_guard<std::mutex> hold(lock);
    return memory.insert_or_assign(key, std::move(*bytes)).first->second;
}

/** "; einfuse 0.1.0 host kernels ..." then "; <kernel>: <statement>" per kernel, then the IR. */
std::string ir_text(const llvm::Module &m, const std::vector<ir::Kernel> &kernels, const std::string &cpu) {
    std::string text =
        "; einfuse " EINFUSE_VERSION " host kernels: LLVM IR after O3 for " + m.getTargetTriple() + " (" + cpu + ")\n";
    for (const auto &k : kernels) {
        std::string comment = k.comment;
        for (char &c : comment)
            if (c == '\n' || c == '\r') c = ' '; // a newline would end the IR comment
        text += "; " + k.name + ": " + comment + "\n";
    }
    llvm::raw_string_ostream os(text);
    m.print(os, nullptr);
    return os.str();
}

/** Kernels call libm (tanhf, erfc) and LLVM lowers some intrinsics to libm calls (llvm.exp.f32 ->
 * expf, sin + cos -> sincosf). LLJIT's default process-symbol generator finds them only if the
 * host binary happens to load libm (with --as-needed, only if it calls libm itself): define them
 * explicitly, from addresses this file takes, so every binary that links the backend resolves them. */
void define_libm(llvm::orc::LLJIT &jit) {
    std::size_t n = 0;
    const LibmSymbol *table = libm_symbols(&n);
    llvm::orc::SymbolMap symbols;
    for (std::size_t i = 0; i < n; ++i)
        symbols[jit.mangleAndIntern(table[i].name)] = {llvm::orc::ExecutorAddr::fromPtr(table[i].address),
                                                       llvm::JITSymbolFlags::Exported};
    // And the packed GEMM's workspace, this thread's (Workspace.h).
    symbols[jit.mangleAndIntern(kWorkspaceSymbol)] = {llvm::orc::ExecutorAddr::fromPtr(&einfuse_host_workspace),
                                                      llvm::JITSymbolFlags::Exported};
    check(jit.getMainJITDylib().define(llvm::orc::absoluteSymbols(std::move(symbols))), "defining libm symbols");
}

} // namespace

struct HostModule::Impl {
    std::unique_ptr<llvm::orc::LLJIT> jit; // owns the machine code the functions point into
    std::map<std::string, Entry> functions;
    std::vector<ir::Kernel> kernels;       // for optimized_ir(), printed when asked
    std::once_flag ir_once;
    std::string ir;
};

HostModule::HostModule() : impl_(std::make_unique<Impl>()) {}
HostModule::~HostModule() = default;

/** Each kernel is its own module, printed under one name (kCanonicalName) with no value names.
 * Kernels that print the same once their sizes are numbered by the variables they use (not the
 * program's: the 10 GEMM steps of an 11-matrix chain read 3 of its 12 sizes each) share one
 * module, and take their sizes through `extent_slots`; packed GEMMs are compared in their
 * canonical form (GemmShare.h), whatever their shapes: a chain of 64/96/128 matrices compiles
 * one GEMM, not 10. The distinct modules are optimised and compiled on up to one thread per core
 * (each with its own LLVMContext and TargetMachine), found in or kept in the caches each on its
 * own, and linked into a JITDylib of their own (each defines the same symbol). */
std::unique_ptr<HostModule> HostModule::compile(const std::vector<ir::Kernel> &kernels) { return compile(kernels, {}); }

std::unique_ptr<HostModule> HostModule::compile(const std::vector<ir::Kernel> &kernels, const std::vector<CodeTier> &tiers,
                                                const CompileControl &control) {
    EINFUSE_ASSERT(tiers.empty() || tiers.size() == kernels.size(), "host backend: one code tier per kernel");
    auto pipeline = [&](std::size_t i) { return pipeline_for({kernels[i]}, tiers.empty() ? CodeTier::Full : tiers[i]); };
    auto cancelled = [&] { return control.cancel && control.cancel->load(); };
    static constexpr const char *kCanonicalName = "einfuse_kernel";
    auto needs = [](const ir::Kernel &k, const std::string &v) { // a loop or a tensor index reads its size
        bool loop = false;
        ir::for_each_loop(k.body, [&](const ir::For &f) { loop |= f.var == v; });
        return loop || ir::uses_var(k, v);
    };
    auto canonical = [&](const ir::Kernel &k, bool compact) {
        ir::Kernel c = k;
        c.name = kCanonicalName;
        if (compact) {
            c.index_vars.clear();
            for (const auto &v : k.index_vars)
                if (needs(k, v)) c.index_vars.push_back(v);
        }
        return c;
    };
    auto text_of = [&](const ir::Kernel &k, const llvm::orc::JITTargetMachineBuilder &jtmb, llvm::TargetMachine &tm) {
        llvm::LLVMContext ctx;
        ctx.setDiscardValueNames(true);
        std::string text;
        llvm::raw_string_ostream os(text);
        print_module({k}, ctx, jtmb, tm)->print(os, nullptr);
        return os.str();
    };
    std::vector<ir::Kernel> distinct;       // what is compiled
    std::vector<Pipeline> pipelines;        // and how
    std::vector<std::size_t> cost;          // its printed size: the compile threads take the largest first
    std::vector<int> object_of(kernels.size());
    std::vector<std::vector<int>> slots(kernels.size()), stride_slots(kernels.size()), data_slots(kernels.size());
    {
        PhaseTimer t("print");
        auto jtmb = host_machine();
        auto tm = take(jtmb.createTargetMachine(), "creating the target machine");
        // Packed GEMMs print the same whatever their shapes once each group is padded to the
        // most variables any of them has (GemmShare.h).
        GemmGroupCounts pads;
        for (const auto &k : kernels)
            if (auto c = gemm_group_counts(k))
                pads = {std::max(pads.batch, c->batch), std::max(pads.m, c->m), std::max(pads.n, c->n), std::max(pads.k, c->k)};
        std::vector<std::optional<SharedGemm>> gemm(kernels.size());
        std::vector<std::string> compact;
        for (std::size_t i = 0; i < kernels.size(); ++i) {
            if (kernels.size() > 1) gemm[i] = shared_gemm(kernels[i], pads);
            compact.push_back(kernels.size() < 2 ? ""
                              : std::string(pipeline_name(pipeline(i))) + "\n" +
                                    (gemm[i] ? "gemm\n" + text_of(canonical(gemm[i]->kernel, false), jtmb, *tm)
                                             : text_of(canonical(kernels[i], true), jtmb, *tm)));
        }
        std::map<std::string, int> shared; // compact text -> its object, for texts two kernels print
        for (std::size_t i = 0; i < kernels.size(); ++i) {
            bool twice = kernels.size() > 1 && std::count(compact.begin(), compact.end(), compact[i]) > 1;
            if (!twice) {
                object_of[i] = static_cast<int>(distinct.size());
                distinct.push_back(canonical(kernels[i], false));
                pipelines.push_back(pipeline(i));
                cost.push_back(compact[i].size());
                continue;
            }
            auto [it, fresh] = shared.emplace(compact[i], static_cast<int>(distinct.size()));
            if (fresh) {
                distinct.push_back(gemm[i] ? canonical(gemm[i]->kernel, false) : canonical(kernels[i], true));
                pipelines.push_back(pipeline(i));
                cost.push_back(compact[i].size());
            }
            object_of[i] = it->second;
            if (gemm[i]) {
                slots[i] = gemm[i]->extent_slots, stride_slots[i] = gemm[i]->stride_slots, data_slots[i] = gemm[i]->data_slots;
                continue;
            }
            for (std::size_t v = 0; v < kernels[i].index_vars.size(); ++v)
                if (needs(kernels[i], kernels[i].index_vars[v])) slots[i].push_back(static_cast<int>(v));
        }
    }
    // An object from a cache that does not load is dropped and compiled again: a bad entry
    // costs one compile, never every later run.
    auto link = [&](bool fresh) -> std::unique_ptr<HostModule> {
        PhaseTimer whole("compile and link");
        std::vector<std::string> objects(distinct.size());
        std::vector<char> cached(distinct.size(), 0);
        std::vector<std::exception_ptr> errors(distinct.size());
        // Largest first (a longest-processing-time schedule): a large kernel started last would
        // leave the other cores idle while it compiles.
        std::vector<std::size_t> order(distinct.size());
        for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return cost[a] > cost[b]; });
        std::atomic<std::size_t> next{0};
        auto work = [&] {
            for (std::size_t n; (n = next++) < distinct.size();) {
                const std::size_t i = order[n];
                try {
                    if (cancelled()) throw CompileCancelled();
                    auto jtmb = host_machine();
                    jtmb.setCodeGenOptLevel(codegen_level(pipelines[i]));
                    auto tm = take(jtmb.createTargetMachine(), "creating the target machine");
                    llvm::LLVMContext ctx; // declared before the module: outlives it
                    ctx.setDiscardValueNames(true);
                    bool hit = false;
                    objects[i] = object_code(print_module({distinct[i]}, ctx, jtmb, *tm), jtmb, *tm, pipelines[i], fresh, &hit,
                                             control.cancel);
                    cached[i] = hit;
                } catch (...) {
                    errors[i] = std::current_exception();
                }
            }
        };
        const std::size_t at_once = control.threads > 0 ? static_cast<std::size_t>(control.threads)
                                                        : std::max(1u, std::thread::hardware_concurrency());
        const std::size_t helpers = std::max<std::size_t>(std::min(distinct.size(), at_once), 1) - 1;
        std::vector<std::thread> threads;
        for (std::size_t h = 0; h < helpers; ++h) threads.emplace_back(work);
        work();
        for (auto &t : threads) t.join();
        for (const auto &e : errors)
            if (e) std::rethrow_exception(e);
        PhaseTimer t("link");

        std::unique_ptr<HostModule> out(new HostModule());
        Impl &impl = *out->impl_;
        impl.kernels = kernels;
        // Process symbols are visible by default (LLJITBuilder links a process-symbol JITDylib):
        // loop-idiom recognition may turn a loop into memset. libm is defined explicitly on top.
        impl.jit =
            take(llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(host_machine()).create(), "creating the JIT");
        define_libm(*impl.jit);
        bool any_cached = std::find(cached.begin(), cached.end(), 1) != cached.end();
        try {
            std::vector<HostKernelFn> addresses;
            for (std::size_t i = 0; i < objects.size(); ++i) {
                auto made = impl.jit->createJITDylib("einfuse-kernel-" + std::to_string(i));
                if (!made) throw TargetError("host backend: creating a JITDylib: " + describe(made.takeError()));
                llvm::orc::JITDylib &jd = *made;
                jd.addToLinkOrder(impl.jit->getMainJITDylib()); // libm
                check(impl.jit->addObjectFile(jd, llvm::MemoryBuffer::getMemBufferCopy(objects[i], "einfuse-host-kernel")),
                      "adding the object code to the JIT");
                // Resolving now links the object once, here, so errors surface from compile()
                // and function() never touches LLVM.
                addresses.push_back(take(impl.jit->lookup(jd, kCanonicalName), "linking the machine code").toPtr<HostKernelFn>());
            }
            for (std::size_t i = 0; i < kernels.size(); ++i) {
                EINFUSE_ASSERT(!impl.functions.count(kernels[i].name), "two kernels are named '" + kernels[i].name + "'");
                impl.functions[kernels[i].name] = {addresses[object_of[i]], slots[i], stride_slots[i], data_slots[i]};
            }
        } catch (const TargetError &e) {
            if (any_cached) throw CachedObjectFailed(e.what());
            throw;
        }
        return out;
    };
    try {
        return link(false);
    } catch (const CachedObjectFailed &) {
        return link(true);
    }
}

const HostModule::Entry &HostModule::entry(const std::string &kernel_name) const {
    auto it = impl_->functions.find(kernel_name);
    if (it == impl_->functions.end()) throw InternalError("host module has no kernel '" + kernel_name + "'");
    return it->second;
}

HostKernelFn HostModule::function(const std::string &kernel_name) const {
    const Entry &e = entry(kernel_name);
    if (!e.extent_slots.empty() || !e.stride_slots.empty() || !e.data_slots.empty())
        throw InternalError("host kernel '" + kernel_name + "' shares its code with another and takes its sizes "
                            "through entry().extent_slots");
    return e.fn;
}

const std::string &HostModule::optimized_ir() const {
    // The machine code may come from a cache, without the optimised IR: print it on demand.
    std::call_once(impl_->ir_once, [&] { impl_->ir = emit_llvm_ir(impl_->kernels); });
    return impl_->ir;
}

void make_compiler_statics() {
    static std::once_flag once;
    std::call_once(once, [] {
        try {
            auto jtmb = host_machine();
            jtmb.setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
            auto tm = take(jtmb.createTargetMachine(), "creating the target machine");
            llvm::LLVMContext ctx;
            auto m = std::make_unique<llvm::Module>("einfuse-statics", ctx);
            m->setDataLayout(tm->createDataLayout());
            m->setTargetTriple(tm->getTargetTriple().str());
            // void f(double *p, i64 n) { for (i = 0; i < n; ++i) p[i] = fmuladd(p[i], 2, 1); }: a
            // loop the vectorisers take, so that their code and vector code generation run too.
            llvm::IRBuilder<> b(ctx);
            auto *type = llvm::FunctionType::get(b.getVoidTy(), {b.getPtrTy(), b.getInt64Ty()}, false);
            auto *f = llvm::Function::Create(type, llvm::Function::ExternalLinkage, "statics", *m);
            auto *entry = llvm::BasicBlock::Create(ctx, "entry", f), *body = llvm::BasicBlock::Create(ctx, "loop", f),
                 *done = llvm::BasicBlock::Create(ctx, "done", f);
            b.SetInsertPoint(entry);
            b.CreateCondBr(b.CreateICmpSGT(f->getArg(1), b.getInt64(0)), body, done);
            b.SetInsertPoint(body);
            llvm::PHINode *i = b.CreatePHI(b.getInt64Ty(), 2);
            i->addIncoming(b.getInt64(0), entry);
            llvm::Value *at = b.CreateGEP(b.getDoubleTy(), f->getArg(0), i);
            llvm::Value *x = b.CreateLoad(b.getDoubleTy(), at);
            llvm::Value *two = llvm::ConstantFP::get(b.getDoubleTy(), 2.0), *one = llvm::ConstantFP::get(b.getDoubleTy(), 1.0);
            b.CreateStore(b.CreateIntrinsic(llvm::Intrinsic::fmuladd, {b.getDoubleTy()}, {x, two, one}), at);
            llvm::Value *next = b.CreateAdd(i, b.getInt64(1));
            i->addIncoming(next, body);
            b.CreateCondBr(b.CreateICmpSLT(next, f->getArg(1)), body, done);
            b.SetInsertPoint(done);
            b.CreateRetVoid();
            optimize(*m, *tm, Pipeline::O3);
            llvm::orc::SimpleCompiler compile(*tm);
            take(compile(*m), "generating machine code");
        } catch (...) { // they are made later, where first used
        }
    });
}

ir::Target host_target() {
    static const HostTarget cpu = host_target_of(host_machine());
    ir::Target t = ir::Target::host(cpu.vector_bits, cpu.cpu);
    t.features = cpu.features;
    t.l2_bytes = std::max<long>(0, sysconf(_SC_LEVEL2_CACHE_SIZE)); // glibc reads it from CPUID
    t.source = "this machine's CPU";
    return t;
}

ir::Target cpu_target(const std::string &cpu) {
    ir::Target t = ir::Target::host(0, cpu);
    t.vector_bits = t.cpu_vector_bits = named_cpu_vector_bits(machine_for(t));
    t.source = "LLVM's table of CPUs";
    return t;
}

std::string emit_llvm_ir(const std::vector<ir::Kernel> &kernels) { return emit_llvm_ir(kernels, ir::Target()); }

std::string emit_llvm_ir(const std::vector<ir::Kernel> &kernels, const ir::Target &target) {
    auto jtmb = machine_for(target);
    auto tm = take(jtmb.createTargetMachine(), "creating the target machine");
    llvm::LLVMContext ctx;
    auto m = build_module(kernels, ctx, jtmb, *tm);
    return ir_text(*m, kernels, jtmb.getCPU());
}

} // namespace einfuse::llvm_backend
