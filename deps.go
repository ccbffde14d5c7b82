//go:build tools

package main

import (
	_ "fyne.io/fyne/v2/app"
	_ "github.com/nfnt/resize"
	_ "github.com/sqweek/dialog"
	_ "gonum.org/v1/gonum/blas/gonum"
	_ "gorgonia.org/gorgonia"
)
