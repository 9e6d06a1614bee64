from keyseal.cli import main

main()
