package imageio

import (
	"fmt"
	"testing"
)

var benchSizes = []int{256, 512, 1024}

func BenchmarkDecodeJPEG(b *testing.B) {
	for _, n := range benchSizes {
		data := encodeJPEG(b, smoothImage(n, n), 90)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n * n))
			for i := 0; i < b.N; i++ {
				if _, err := DecodeBytes(data, "", Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkFromImage(b *testing.B) {
	for _, n := range benchSizes {
		img := smoothImage(n, n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n * n))
			for i := 0; i < b.N; i++ {
				FromImage(img)
			}
		})
	}
}

func BenchmarkToRGBAInto(b *testing.B) {
	for _, n := range benchSizes {
		rgb, _ := FromImage(smoothImage(n, n))
		dst, _ := ToRGBA(rgb, nil)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n * n))
			for i := 0; i < b.N; i++ {
				if err := ToRGBAInto(dst, rgb, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkResize(b *testing.B) {
	for _, n := range benchSizes[:2] {
		in, _ := FromImage(smoothImage(2*n, 2*n))
		b.Run(fmt.Sprintf("%d_to_%d", 2*n, n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := Resize(in, n, n); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
