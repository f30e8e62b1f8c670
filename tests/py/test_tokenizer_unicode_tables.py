"""The committed Unicode tables are exactly what tools/gen_unicode_tables.py generates."""
import subprocess
import sys

import pytest

from conftest import REPO


def test_unicode_tables_are_up_to_date(tmp_path):
    pytest.importorskip("unicodedata2", reason="unicodedata2 (tools/requirements.txt) generates the tables")
    out = tmp_path / "unicode_data.cpp"
    subprocess.run([sys.executable, str(REPO / "tools" / "gen_unicode_tables.py"), str(out)], check=True)
    committed = (REPO / "src" / "text" / "unicode_data.cpp").read_text()
    assert out.read_text() == committed, "src/text/unicode_data.cpp is stale: run tools/gen_unicode_tables.py"
