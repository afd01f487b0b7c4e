"""Command-line errors in one line: both scripts exit 2 with a sentence that
names the problem and the fix, instead of argparse's usage block."""
from __future__ import annotations

import argparse
import sys

EXIT_USAGE = 2


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str):
        print(f"{self.prog}: error: {message} (see --help)", file=sys.stderr)
        sys.exit(EXIT_USAGE)
