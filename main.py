"""Start RAN Screening from a source checkout: `python main.py [photos or folders...]`."""

from ran_desktop.app import main

if __name__ == "__main__":
    raise SystemExit(main())
