module volcrypt.dev/go

go 1.19
