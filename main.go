// Command atelier is a desktop studio for neural style transfer, texture
// synthesis and super-resolution. Run "atelier help" for its commands.
package main

import (
	"os"

	"atelier/app"
)

func main() {
	os.Exit(app.Main(os.Args[1:]))
}
