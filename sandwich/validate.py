"""`python -m sandwich.validate`: the developer tool in sandwich/tools/validate.py."""

from sandwich.tools.validate import main

if __name__ == "__main__":
    main()
