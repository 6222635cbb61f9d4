"""Problem sets as the daemon reads them (`ProblemSet.load`): JSONL objects with `problem`, `answer` (text or a
number) and an optional `id` (the line number when absent). The driver reads the file itself so it can split it."""
import json


class ProblemSetError(ValueError):
    pass


def _text(value, path, line_number, field):
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ProblemSetError("%s:%d: %s must be a string or a number" % (path, line_number, field))
    return value if isinstance(value, str) else str(value)


def load_problems(path, limit=None):
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().split("\n")
    except OSError as error:
        raise ProblemSetError("cannot read problem set %s: %s" % (path, error.strerror or error)) from None
    problems = []
    for line_number, line in enumerate(lines, start=1):
        if limit is not None and len(problems) >= limit:
            break
        if not line.strip(" \r\t"):
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise ProblemSetError("%s:%d: not valid JSON (%s)" % (path, line_number, error.msg)) from None
        if not isinstance(record, dict) or "problem" not in record or "answer" not in record:
            raise ProblemSetError("%s:%d: needs `problem` and `answer`" % (path, line_number))
        if not isinstance(record["problem"], str):
            raise ProblemSetError("%s:%d: problem must be a string" % (path, line_number))
        problem_id = record.get("id")
        problems.append({"id": str(line_number) if problem_id is None else _text(problem_id, path, line_number, "id"),
                         "problem": record["problem"],
                         "answer": _text(record["answer"], path, line_number, "answer")})
    if not problems:
        raise ProblemSetError("problem set %s holds no problems" % path)
    return problems


def parse_jsonl_text(text, name):
    """Problems from JSONL text (what `torl synthetic` prints)."""
    problems = []
    for line_number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            record = json.loads(line)
            problems.append({"id": str(record.get("id", line_number)), "problem": record["problem"],
                             "answer": str(record["answer"])})
    if not problems:
        raise ProblemSetError("%s produced no problems" % name)
    return problems
