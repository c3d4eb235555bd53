"""Board top levels, UART, bitstream builds and flashing (iCEBreaker, ULX3S-85F)."""
