"""Training and held-out sets of the recorded Gemma 3 TORL run (scripts/record_gemma3_run.sh): short GSM8K word
problems from the project's data and generated arithmetic (`torl synthetic`), mixed in equal parts by a seeded
shuffle. The held-out set takes its word problems from a part of GSM8K the training set never sees.

Usage: python scripts/gemma3_run_data.py GSM8K.jsonl SYNTHETIC_TRAIN.jsonl SYNTHETIC_HELDOUT.jsonl OUT_DIR
           [--heldout-word-problems 32] [--max-characters 200] [--seed 0]
Writes OUT_DIR/train.jsonl and OUT_DIR/heldout.jsonl (id, problem, answer per line)."""
import argparse
import json
import os
import random


def read_jsonl(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def is_integer(text):
    return text.strip().lstrip("-").isdigit()


def short_word_problems(rows, max_characters):
    """Word problems short enough for the prompt budget, with whole-number answers (what a short program
    prints)."""
    return [{"id": row["id"], "problem": row["problem"], "answer": row["answer"].strip()}
            for row in rows if len(row["problem"]) <= max_characters and is_integer(row["answer"])]


def mix(first, second, seed):
    """Equal parts of both lists (as many as the shorter has), in one seeded order."""
    count = min(len(first), len(second))
    rows = first[:count] + second[:count]
    random.Random(seed).shuffle(rows)
    return rows


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("gsm8k")
    parser.add_argument("synthetic_train")
    parser.add_argument("synthetic_heldout")
    parser.add_argument("out_dir")
    parser.add_argument("--heldout-word-problems", type=int, default=32)
    parser.add_argument("--max-characters", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    words = short_word_problems(read_jsonl(args.gsm8k), args.max_characters)
    random.Random(args.seed).shuffle(words)
    heldout_words, train_words = words[:args.heldout_word_problems], words[args.heldout_word_problems:]
    train = mix(train_words, read_jsonl(args.synthetic_train), args.seed)
    heldout = mix(heldout_words, read_jsonl(args.synthetic_heldout), args.seed + 1)
    os.makedirs(args.out_dir, exist_ok=True)
    write_jsonl(os.path.join(args.out_dir, "train.jsonl"), train)
    write_jsonl(os.path.join(args.out_dir, "heldout.jsonl"), heldout)
    print(json.dumps({"train": len(train), "heldout": len(heldout), "word_problems_available": len(words)}))


if __name__ == "__main__":
    main()
