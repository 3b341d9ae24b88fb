import sys

from medpic.cli import main

sys.exit(main())
