"""PyTorch eager CPU reference for `./coop bench real` and `./coop bench engine`.

Reads one JSON job from argv[1] and prints one JSON line. Job: {"config": HF config.json dict, "threads": n,
"train": {"batch", "seq", "steps", "lr", "weight_decay", "max_grad_norm"}?, "generate": {"batch", "prompt",
"new_tokens"}?, "forward": {"batch", "seq"}?}. Each section is timed on the same random-weight model as Coop's
(transformers' own init, float32); peak RSS is the process high-water mark (ru_maxrss) after each section.
"""

import json
import resource
import sys
import time


def peak_gib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main():
    job = json.loads(sys.argv[1])
    import torch
    import transformers

    torch.set_num_threads(job.get("threads", 2))
    torch.manual_seed(0)
    out = {"torch": torch.__version__, "transformers": transformers.__version__, "threads": torch.get_num_threads()}
    config = transformers.AutoConfig.for_model(**job["config"])
    start = time.perf_counter()
    model = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    out["init_s"] = time.perf_counter() - start
    out["attn_implementation"] = model.config._attn_implementation
    out["peak_gib_init"] = peak_gib()
    vocab = config.vocab_size
    gen = torch.Generator().manual_seed(1)
    if "train" in job:
        t = job["train"]
        ids = torch.randint(1, vocab, (t["batch"], t["seq"]), generator=gen)
        opt = torch.optim.AdamW(model.parameters(), lr=t.get("lr", 1e-4), weight_decay=t.get("weight_decay", 0.01))
        model.train()
        times = []
        for _ in range(t["steps"]):
            start = time.perf_counter()
            loss = model(input_ids=ids, labels=ids).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), t.get("max_grad_norm", 1.0))
            opt.step()
            opt.zero_grad(set_to_none=True)
            times.append(time.perf_counter() - start)
        out["train_step_s"] = times
        out["train_loss"] = float(loss)
        out["peak_gib_train"] = peak_gib()
        del opt
    if "forward" in job:
        f = job["forward"]
        ids = torch.randint(1, vocab, (f["batch"], f["seq"]), generator=gen)
        model.eval()
        times = []
        with torch.no_grad():
            for _ in range(f.get("runs", 2)):
                start = time.perf_counter()
                logits = model(input_ids=ids).logits
                torch.log_softmax(logits, -1)
                times.append(time.perf_counter() - start)
        out["forward_s"] = times
        out["peak_gib_forward"] = peak_gib()
    if "generate" in job:
        g = job["generate"]
        ids = torch.randint(1, vocab, (g["batch"], g["prompt"]), generator=gen)
        model.eval()
        with torch.no_grad():
            start = time.perf_counter()
            model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=g["new_tokens"],
                min_new_tokens=g["new_tokens"],
                do_sample=False,
                pad_token_id=0,
            )
            out["generate_s"] = time.perf_counter() - start
        out["generate_tok_s"] = g["batch"] * g["new_tokens"] / out["generate_s"]
        out["peak_gib_generate"] = peak_gib()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
