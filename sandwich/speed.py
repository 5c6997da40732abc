"""`python -m sandwich.speed`: the developer tool in sandwich/tools/speed.py."""

from sandwich.tools.speed import main

if __name__ == "__main__":
    main()
