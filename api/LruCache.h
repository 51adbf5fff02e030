#pragma once
// A thread-safe map from text keys to shared values that keeps the `capacity` most recently used
// and drops the least recently used beyond that. The library's one compile cache (PublicApi.cpp)
// is one of these; both the C++ API and the C ABI compile through it. A value dropped while a
// caller still holds it lives on in that caller's shared_ptr.
#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

namespace einfuse {

template <class V> class LruCache {
public:
    struct Stats {
        std::size_t hits = 0, misses = 0, entries = 0, capacity = 0;
    };

    explicit LruCache(std::size_t capacity) : capacity_(capacity < 1 ? 1 : capacity) {}

    /** The value for `key`, made by `make()` on a miss. make() runs outside the lock, so a hit
     * never waits for another thread's compilation; when two threads miss the same key, both
     * make a value and the first to insert wins (the other's is dropped). */
    template <class Make> std::shared_ptr<V> get_or_make(const std::string &key, Make &&make) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (auto it = entries_.find(key); it != entries_.end()) {
                ++hits_;
                order_.splice(order_.begin(), order_, it->second.second);
                return it->second.first;
            }
        }
        std::shared_ptr<V> made = make();
        std::lock_guard<std::mutex> lock(mutex_);
        ++misses_;
        if (auto it = entries_.find(key); it != entries_.end()) return it->second.first;
        order_.push_front(key);
        entries_.emplace(key, std::make_pair(std::move(made), order_.begin()));
        while (entries_.size() > capacity_) {
            entries_.erase(order_.back());
            order_.pop_back();
        }
        return entries_.at(key).first;
    }

    Stats stats() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return {hits_, misses_, entries_.size(), capacity_};
    }

    /** Drops every entry; values already handed out stay valid. The counters stay. */
    void clear() {
        std::lock_guard<std::mutex> lock(mutex_);
        entries_.clear();
        order_.clear();
    }

private:
    using Order = std::list<std::string>; // most recently used first
    mutable std::mutex mutex_;
    std::size_t capacity_;
    Order order_;
    std::unordered_map<std::string, std::pair<std::shared_ptr<V>, Order::iterator>> entries_;
    std::size_t hits_ = 0, misses_ = 0;
};

} // namespace einfuse
