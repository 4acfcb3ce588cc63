from chatai.cli import main

raise SystemExit(main())
