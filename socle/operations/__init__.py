"""Operations on machines: reimage a salle, patch in waves, within maintenance windows."""
