"""`python -m nodespace_lab` runs the `nodespace` command."""

from nodespace_lab.cli import main

if __name__ == "__main__":
    main()
