"""The bottom layer: helpers every other package uses, importing nothing above them."""
