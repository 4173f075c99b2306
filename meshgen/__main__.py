from meshgen.entry import main

main()
