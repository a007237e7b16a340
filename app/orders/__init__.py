"""An order's life after its first answer: the pure state machine every venue update goes through."""
