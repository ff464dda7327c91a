from ailawyer.cli import main

main()
