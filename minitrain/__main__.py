"""``python -m minitrain`` runs the command line."""
from minitrain.cli import main

if __name__ == "__main__":  # pragma: no cover
    main()
