"""The README's Python API example runs as written."""

from pathlib import Path

README = Path(__file__).parent.parent / "README.md"


def test_python_api_block_runs(capsys):
    text = README.read_text()
    section = text[text.index("## Python API"):]
    block = section.split("```python", 1)[1].split("```", 1)[0]
    exec(compile(block, "README.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("0.1597")
