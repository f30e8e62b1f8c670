"""Expected values for the hand-made policy examples in src/kv/policy_*_test.cpp.

An independent re-implementation, in torch, of the scoring rules of
/work/shared/reference/eviction-methods.md (VaSE-AttnV §2.6, decode SnapKV §2.8, R-KV §3.1,
SnapKV §3.2), written the way the original Python code computes them (F.avg_pool1d with
count_include_pad, F.max_pool1d, softmax in fp32, torch.topk). The C++ tests embed the numbers
this prints; rerun it to check them:  python3 tools/oracles/policy_hand_examples.py
"""
import math

import torch
import torch.nn.functional as F

torch.set_printoptions(precision=8)


def vase_example():
    # 1 layer, 2 query heads, 1 KV head, head_dim 2; 12 tokens; window R = 4, budget 8,
    # n_large 3 (1 sink), candidates = slots 0..7 in positional order.
    k = torch.tensor([[1, 0], [0, 1], [1, 1], [-1, 0], [0, -1], [2, 0], [0, 2], [1, -1],
                      [0.5, 0.5], [-0.5, 1], [1, 0.5], [0, 0]], dtype=torch.float64)
    v = torch.tensor([[0, 0.1], [0, 3], [1, 1.5], [0, 0.2], [2, -2], [0, 0.3], [0.1, 0], [1, -5],
                      [0, 1], [0, 1], [0, 1], [0, 1]], dtype=torch.float64)
    # window queries, positions 8..11: [pos][head][dim]
    q = torch.tensor([[[2, 0], [0, 2]], [[1, 1], [2, -1]], [[0, 3], [-1, 0]], [[1, 0], [0, 1]]],
                     dtype=torch.float64)
    C = 8
    rng = (v.max(-1).values - v.min(-1).values)[:C].clone()
    rng[:1] = float("inf")  # 1 sink
    reserved = torch.topk(rng, 3).indices.tolist()
    per_head = []
    for h in range(2):
        logits = q[:, h, :] @ k[:C].T / math.sqrt(2)  # [4][C]
        p = torch.softmax(logits, dim=-1).mean(0)      # mean over window queries
        per_head.append(F.avg_pool1d(p[None, None], 5, 1, 2)[0, 0])  # count_include_pad=True
    s = torch.stack(per_head).mean(0)
    print("vase window scores S[0..7] =", [f"{x:.8f}" for x in s.tolist()])
    print("vase reserved (desc range, sink first) =", reserved)
    w = s.clone()
    w[reserved] = 0
    pool = [i for i in range(C) if i not in reserved]
    probs = (w[pool] / w[pool].sum()).tolist()
    print("vase pool", pool, "draw-1 probabilities", [f"{x:.6f}" for x in probs])

    # The same scores after the slots are permuted (pooling runs over SLOT order).
    perm = [5, 2, 7, 0, 1, 6, 3, 4]
    kp = k[:C][perm]
    per_head = []
    for h in range(2):
        p = torch.softmax(q[:, h, :] @ kp.T / math.sqrt(2), dim=-1).mean(0)
        per_head.append(F.avg_pool1d(p[None, None], 5, 1, 2)[0, 0])
    print("vase window scores after permutation", perm, "=",
          [f"{x:.8f}" for x in torch.stack(per_head).mean(0).tolist()])


def rkv_example(index0_quirk=True):
    # 1 layer, 2 query heads, 1 KV head, head_dim 3; 10 prompt tokens; alpha = 2, budget 6.
    k = torch.tensor([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0, 0, 1], [0.1, 0.9, 0.2],
                      [-1, 0, 0], [0, -1, 0.5], [1, 1, 1], [0.5, -0.5, 0], [0, 0.2, 1]], dtype=torch.float64)
    q = torch.tensor([[[1, 0.5, 0], [0, 1, -1]], [[0.3, 0.3, 2], [-1, 0, 1]]], dtype=torch.float64)  # [alpha][head][dim]
    L, alpha, budget, lam = 10, 2, 6, 0.1
    logits = torch.einsum("jhd,id->hji", q, k) / math.sqrt(3)          # [head][j][i]
    logits = logits.max(dim=0).values                                    # GQA: max over group, before softmax
    attn = torch.softmax(logits[:, : L - alpha], dim=-1).mean(0)        # softmax over [0, L-alpha), mean over j
    attn = F.max_pool1d(attn[None, None], 7, 1, 3)[0, 0]
    kn = k / (k.norm(dim=-1, keepdim=True) + 1e-8)
    S = kn @ kn.T
    S.fill_diagonal_(0.0)
    for i in range(L):
        above = [j for j in range(L) if S[i, j] > 0.5]
        if above:
            S[i, above[-1]] = 0.0   # spare the most recent duplicate
        elif index0_quirk:
            S[i, 0] = 0.0           # the code's fallback index 0
    red = torch.softmax(S.mean(0), dim=-1)[: L - alpha]
    z = lam * attn - (1 - lam) * red
    tag = "" if index0_quirk else " (index0_quirk off)"
    print(f"rkv{tag} Z[0..7] =", [f"{x:.8f}" for x in z.tolist()])
    keep = torch.topk(z, budget - alpha).indices.tolist()
    print(f"rkv{tag} keep order =", keep + list(range(L - alpha, L)))


def snapkv_example():
    # Same keys as rkv_example; window w = 2 (the queries at positions 8, 9), budget 6, avgpool 5.
    k = torch.tensor([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0, 0, 1], [0.1, 0.9, 0.2],
                      [-1, 0, 0], [0, -1, 0.5], [1, 1, 1], [0.5, -0.5, 0], [0, 0.2, 1]], dtype=torch.float64)
    q = torch.tensor([[[1, 0.5, 0], [0, 1, -1]], [[0.3, 0.3, 2], [-1, 0, 1]]], dtype=torch.float64)
    L, w, budget = 10, 2, 6
    pooled = []
    for h in range(2):
        logits = q[:, h, :] @ k.T / math.sqrt(3)          # [w][L]
        mask = torch.zeros(w, L, dtype=torch.float64)
        mask[0, L - 1] = float("-inf")                    # causal inside the window
        p = torch.softmax(logits + mask, dim=-1)
        s = p[:, : L - w].sum(0)
        pooled.append(F.avg_pool1d(s[None, None], 5, 1, 2)[0, 0])
    score = torch.stack(pooled).mean(0)                   # GQA: group mean of the pooled scores
    print("snapkv scores[0..7] =", [f"{x:.8f}" for x in score.tolist()])
    print("snapkv keep order =", torch.topk(score, budget - w).indices.tolist() + list(range(L - w, L)))


if __name__ == "__main__":
    vase_example()
    rkv_example()
    rkv_example(index0_quirk=False)
    snapkv_example()
