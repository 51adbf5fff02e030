#include "backends/llvm/Workspace.h"

#include <cstdlib>
#include <limits>

namespace einfuse::llvm_backend {

namespace {

struct Buffer {
    void *data = nullptr;
    int64_t capacity = 0;
    ~Buffer() { std::free(data); }
};

thread_local Buffer buffer;
thread_local int64_t failed = 0;

} // namespace

extern "C" void *einfuse_host_workspace(int64_t bytes) {
    if (bytes <= buffer.capacity) return buffer.data;
    std::free(buffer.data);
    buffer.data = nullptr;
    buffer.capacity = 0;
    constexpr int64_t kAlign = 64;
    void *p = bytes > 0 && bytes <= std::numeric_limits<int64_t>::max() - kAlign
                  ? std::aligned_alloc(kAlign, static_cast<std::size_t>((bytes + kAlign - 1) / kAlign * kAlign))
                  : nullptr;
    if (!p) {
        failed = bytes;
        return nullptr;
    }
    buffer.data = p;
    buffer.capacity = (bytes + kAlign - 1) / kAlign * kAlign;
    return p;
}

void release_large_workspace() {
    if (buffer.capacity <= kKeptWorkspaceBytes) return;
    std::free(buffer.data);
    buffer.data = nullptr;
    buffer.capacity = 0;
}

int64_t take_workspace_failure() {
    int64_t bytes = failed;
    failed = 0;
    return bytes;
}

} // namespace einfuse::llvm_backend
