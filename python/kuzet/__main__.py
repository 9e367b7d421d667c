from kuzet.cli import main

raise SystemExit(main())
