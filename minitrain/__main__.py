"""``python -m minitrain`` runs the command line."""
from minitrain.cli import cli

if __name__ == "__main__":  # pragma: no cover
    cli(prog_name="minitrain")
