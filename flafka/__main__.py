import sys

from flafka.cli import main

sys.exit(main())
