"""`python -m sandwich.compare`: the developer tool in sandwich/tools/compare.py."""

from sandwich.tools.compare import main

if __name__ == "__main__":
    main()
