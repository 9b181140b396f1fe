// bpe_merge.h - the merge loop shared by both tokenizers. Symbols are adjacent byte ranges of
// one string; `rate(left, right)` says whether the pair may merge, with a priority key (lower
// merges first; ties go to the leftmost pair) and the merged token id. A heap of candidate
// pairs plus a linked list make it O(n log n); a popped pair is stale if either side changed
// since it was pushed (sides only grow, so comparing lengths detects that).
#pragma once

#include <cstdint>
#include <optional>
#include <queue>
#include <vector>

namespace pa::model {

struct bpe_symbol {
    uint32_t start = 0, len = 0; // byte range; len 0 = merged into its left neighbour
    int32_t id = -1;             // token id, -1 if the text is not a token
    int32_t prev = -1, next = -1;
};

struct bpe_rating {
    double key;
    int32_t id;
};

// Appends the symbol of bytes [start, start + len) with token id (-1: not a token), linked to
// its left neighbour and to the one that follows (the last link is closed by bpe_merge).
inline void bpe_append(std::vector<bpe_symbol>& syms, size_t start, size_t len, int32_t id) {
    bpe_symbol s;
    s.start = uint32_t(start);
    s.len = uint32_t(len);
    s.id = id;
    s.prev = int32_t(syms.size()) - 1;
    s.next = int32_t(syms.size()) + 1;
    syms.push_back(s);
}

// Merges symbols built with bpe_append in place; on return the live symbols are those reachable
// from index 0 via next.
template <class Rate> void bpe_merge(std::vector<bpe_symbol>& syms, Rate rate) {
    if (syms.empty()) return;
    syms.back().next = -1;
    struct cand {
        double key;
        int32_t left;
        uint32_t len_left, len_right;
        int32_t id;
        bool operator<(const cand& o) const { // priority_queue pops the largest: invert
            return key != o.key ? key > o.key : left > o.left;
        }
    };
    std::priority_queue<cand> heap;
    auto push = [&](int32_t l) {
        if (l < 0) return;
        const int32_t r = syms[size_t(l)].next;
        if (r < 0) return;
        if (std::optional<bpe_rating> rt = rate(syms[size_t(l)], syms[size_t(r)]))
            heap.push({rt->key, l, syms[size_t(l)].len, syms[size_t(r)].len, rt->id});
    };
    for (size_t i = 0; i + 1 < syms.size(); ++i) push(int32_t(i));
    while (!heap.empty()) {
        const cand c = heap.top();
        heap.pop();
        bpe_symbol& left = syms[size_t(c.left)];
        if (left.len != c.len_left || left.next < 0) continue;
        bpe_symbol& right = syms[size_t(left.next)];
        if (right.len != c.len_right) continue;
        left.len += right.len;
        left.id = c.id;
        right.len = 0;
        left.next = right.next;
        if (right.next >= 0) syms[size_t(right.next)].prev = c.left;
        push(left.prev);
        push(c.left);
    }
}

} // namespace pa::model
