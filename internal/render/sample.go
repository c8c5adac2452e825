package render

// SampleData returns realistic data for the email name, for checks, golden
// tests and previews: a British outdoor shop, a customer with a first name,
// recommendations with reasons, and the order or checkout the email is about.
// An unknown name gets the data of a recommendation email.
func SampleData(name string) Data {
	d := Data{
		Customer: Customer{FirstName: "Amelia", Email: "amelia@example.com"},
		Store: Store{
			Name:    "Fellside Outfitters",
			URL:     "https://fellside.example",
			Address: "Unit 4, Mill Yard\nKendal LA9 4QR\nUnited Kingdom",
			Locale:  "en-GB",
			LogoURL: "https://fellside.example/img/logo.png",
		},
		Links: Links{
			Unsubscribe: "https://mail.fellside.example/u/7Hq2xK9",
			Preferences: "https://mail.fellside.example/p/7Hq2xK9",
		},
	}
	p := sampleProducts()
	boots := Line{Title: "Scafell GTX Walking Boots", Quantity: 1, Price: gbp(14999),
		ImageURL: "https://fellside.example/img/scafell-boots.jpg", URL: "https://fellside.example/p/scafell-boots"}
	socks := Line{Title: "Merino Hiking Socks (2 pairs)", Quantity: 2, Price: gbp(1800),
		ImageURL: "https://fellside.example/img/merino-socks.jpg", URL: "https://fellside.example/p/merino-socks"}
	wash := Line{Title: "Tech Wash 300 ml", Quantity: 1, Price: gbp(850),
		ImageURL: "https://fellside.example/img/tech-wash.jpg", URL: "https://fellside.example/p/tech-wash"}
	order := func(number string, lines ...Line) *Order {
		o := &Order{Number: number, Lines: lines, Total: gbp(0)}
		for _, l := range lines {
			o.Total.Minor += l.Total().Minor
		}
		return o
	}
	switch name {
	case "cross-sell":
		d.Order = order("#1042", boots)
		d.Products = p[:4]
	case "upsell":
		d.Order = order("#1042", boots)
		d.Products = []Product{
			{Title: "Helvellyn Pro GTX Boots", URL: "https://fellside.example/p/helvellyn-pro", ImageURL: "https://fellside.example/img/helvellyn-pro.jpg",
				Price: gbp(21999), Reason: "A lighter, stiffer step up from your Scafell GTX"},
			{Title: "Carbon Trekking Poles", URL: "https://fellside.example/p/carbon-poles", ImageURL: "https://fellside.example/img/carbon-poles.jpg",
				Price: gbp(8999), Reason: "Half the weight of aluminium poles"},
		}
	case "replenish":
		d.Order = order("#0981", wash, socks)
		d.Products = []Product{p[3]}
	case "abandoned-checkout":
		c := order("", boots, socks)
		d.Checkout = &Checkout{URL: "https://fellside.example/checkouts/c9f1e2", Lines: c.Lines, Total: c.Total}
		d.Products = p[1:3]
	case "browse-abandonment":
		d.Products = []Product{
			{Title: "Langdale Insulated Jacket", URL: "https://fellside.example/p/langdale-jacket", ImageURL: "https://fellside.example/img/langdale-jacket.jpg",
				Price: gbp(16500), Reason: "You looked at this on Tuesday"},
			p[0], p[2],
		}
	case "thank-you":
		d.Order = order("#1042", boots, socks)
		d.Products = p[:2]
	default: // win-back and any other
		d.Products = p[:4]
	}
	return d
}

func gbp(minor int64) Money { return Money{Minor: minor, Currency: "GBP"} }

// sampleProducts returns four recommendations, in a new slice each time.
func sampleProducts() []Product {
	return []Product{
		{Title: "Waterproofing Wax", URL: "https://fellside.example/p/waterproofing-wax", ImageURL: "https://fellside.example/img/waterproofing-wax.jpg",
			Price: gbp(750), Reason: "Keeps your Scafell GTX boots waterproof"},
		{Title: "Merino Hiking Socks (2 pairs)", URL: "https://fellside.example/p/merino-socks", ImageURL: "https://fellside.example/img/merino-socks.jpg",
			Price: gbp(1800), Reason: "Bought with these boots by 4 in 10 customers"},
		{Title: "Trail Gaiters", URL: "https://fellside.example/p/trail-gaiters", ImageURL: "https://fellside.example/img/trail-gaiters.jpg",
			Price: gbp(3250), Reason: "Keeps mud and scree out"},
		{Title: "Replacement Laces (120 cm)", URL: "https://fellside.example/p/laces", ImageURL: "https://fellside.example/img/laces.jpg",
			Price: gbp(499), Reason: "Fits your Scafell GTX"},
	}
}
