"""Start the web app from the repository root: ``python app.py [--host H] [--port P]``."""
import sys

from assist.cli import main

if __name__ == "__main__":
    sys.exit(main(["app", *sys.argv[1:]]))
