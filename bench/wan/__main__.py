from bench.wan.cli import main

raise SystemExit(main())
