#!/usr/bin/env python3
"""Writes Tests/Fixtures/gemma3_tokenizer_corpus.json: texts and the token ids llama.cpp's tokenizer gives them
for the Gemma 3 270M GGUF (BOS added as the file asks; llama-tokenize parses special tokens written in the text).

    scripts/make_gemma3_tokenizer_corpus.py LLAMA_TOKENIZE MODEL.gguf [OUTPUT]

LLAMA_TOKENIZE is llama.cpp's `llama-tokenize` (built from the vendored source of the llama-cpp-python sdist);
each text goes through `llama-tokenize -m MODEL -f FILE --ids --no-escape --log-disable`.
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile


def corpus():
    texts = [
        "Hello world", " Hello world", "Hello  world", "Hello   world", "  leading spaces", "trailing spaces  ",
        "\n", "\n\n", "a\nb", "a\n\nb", "a\n\n\n\nb", "line one\nline two\n", "\tTab\tseparated\tvalues",
        " ", "  ", "                                        forty spaces", "\n" * 40 + "forty newlines",
        "", "a", "Z", "0", "9", "12", "123", "1234", "12345", "123456789", "3.14159265358979",
        "1,000,000", "-42", "+7", "1e-10", "6.022e23", "0x1F", "0b1011", "1/12", "2^10 = 1024",
        "The answer is 56211.", "What is 17 * 23?", "Compute $123 \\times 457$.", "Let x = 5, y = -3.",
        "\\frac{1}{2}", "\\boxed{42}", "\\boxed{\\frac{\\sqrt{3}}{2}}", "$\\int_0^1 x^2\\,dx = \\frac13$",
        "\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", "\\sum_{k=1}^{n} k = \\frac{n(n+1)}{2}",
        "\\left( \\frac{a}{b} \\right)^{2}", "x \\in [-\\frac32, -1] \\cup [1, \\frac32]", "\\alpha + \\beta = \\gamma",
        "\\lim_{x \\to 0} \\frac{\\sin x}{x} = 1", "$$E = mc^2$$", "\\mathbb{R}^n", "a_{ij} b^{jk}",
        "```python\nprint(6 * 7)\n```", "```output\n42\n```", "def f(x):\n    return x ** 2\n",
        "import sympy as sp\nx = sp.Symbol('x')\nprint(sp.factor(x**4 - 1))\n",
        "for i in range(10):\n\tprint(i)\n", "if a == b and not c:\n        pass", "lambda x: x+1",
        "{\"key\": [1, 2, 3], \"nested\": {\"a\": null}}", "<html><body>Hi</body></html>", "x<1 and y>=2",
        "C:\\Users\\name\\file.txt", "https://example.com/path?q=1&r=2", "user@example.com", "#include <stdio.h>",
        "日本語のテキスト", "中文文本，包括标点。", "한국어 문장입니다", "Ελληνικά κείμενα", "Русский текст",
        "עברית", "العربية", "हिन्दी", "ไทย", "Tiếng Việt có dấu", "naïve café", "Ångström", "résumé",
        "e\u0301", "a\u0300\u0301\u0302", "\u1e9b\u0323", "Z\u0351\u0360\u0489", "emoji 😀", "👍🏽", "👨‍👩‍👧‍👦 family",
        "🇫🇷🇯🇵", "♠♥♦♣", "∀x∈ℝ: x²≥0", "½ ⅓ ¼", "™ © ®", "—–-", "“quotes” ‘single’", "«guillemets»",
        "\u00a0non-breaking", "zero\u200bwidth", "\ufeffBOM", "\u2028separator", "control\u0001char",
        "<start_of_turn>user\nhi<end_of_turn>", "<bos>not special", "<eos>", "<unused0>", "<pad>",
        "[multimodal]", "▁already▁escaped", "▁", "▁▁", "_underscore_", "CamelCaseIdentifier",
        "snake_case_identifier", "kebab-case-word", "ALLCAPS", "MiXeD CaSe", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "abababababababababab", "!!!???...", "a.b.c.d", "(((nested)))", "[1, [2, [3]]]", "x=1;y=2;z=3",
    ]
    words = ["the", "integral", "of", "prime", "factorization", "polynomial", "remainder", "triangle",
             "probability", "divisible", "sequence", "Fibonacci", "modulo", "hypotenuse", "derivative"]
    for i in range(40):
        texts.append(" ".join(words[(i * 7 + j) % len(words)] for j in range(3 + i % 6)))
    for n in range(1, 21):
        texts.append(str(7 ** n))
        texts.append(" " * n + "x" + "\n" * (n % 5))
    for i in range(15):
        texts.append("Problem %d: find $%d^{%d} \\bmod %d$.\n\nSolution: \\boxed{%d}" % (i, i + 2, i + 3, i + 5, pow(i + 2, i + 3, i + 5)))
    return texts


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    tokenize, model = sys.argv[1], sys.argv[2]
    output = sys.argv[3] if len(sys.argv) > 3 else "Tests/Fixtures/gemma3_tokenizer_corpus.json"
    with open(model, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    cases = []
    with tempfile.TemporaryDirectory() as scratch:
        path = os.path.join(scratch, "text")
        for text in corpus():
            with open(path, "wb") as f:
                f.write(text.encode("utf-8"))
            result = subprocess.run([tokenize, "-m", model, "-f", path, "--ids", "--no-escape", "--log-disable"],
                                    capture_output=True, check=True)
            line = result.stdout.decode().strip().splitlines()[-1]
            cases.append({"text": text, "ids": json.loads(line)})
    document = {
        "model_sha256": digest,
        "made_by": "scripts/make_gemma3_tokenizer_corpus.py with llama.cpp's llama-tokenize "
                   "(llama-cpp-python 0.3.36 sdist, vendored llama.cpp 0c1e570): "
                   "-f FILE --ids --no-escape --log-disable (BOS added, special tokens in the text parsed)",
        "cases": cases,
    }
    with open(output, "w", encoding="utf-8") as f:
        json.dump(document, f, ensure_ascii=False, indent=0)
        f.write("\n")
    print("%d texts -> %s" % (len(cases), output))


if __name__ == "__main__":
    main()
