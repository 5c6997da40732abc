"""`python -m sandwich.surrogate_check`: the developer tool in sandwich/tools/surrogate_check.py."""

from sandwich.tools.surrogate_check import main

if __name__ == "__main__":
    main()
