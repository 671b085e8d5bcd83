module volcrypt.example/go

go 1.19
