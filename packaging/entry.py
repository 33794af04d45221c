"""The executable's entry point: the same `main()` as the `llmgw` console script."""

import sys

from llmgw.cli import main

if __name__ == "__main__":
    sys.exit(main())
