from jumbe.cli import main

main()
