print("weightinit")
