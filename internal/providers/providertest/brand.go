package providertest

import (
	"fmt"

	"github.com/talkrelay/talkrelay/internal/job"
)

// BrandSender is the sender key of BrandJob (40 characters, as NHN and
// Kakao i Connect document it).
const BrandSender = "0123456789abcdef0123456789abcdef01234567"

// BrandBubbles are the eight Brand Message bubble types, in the order the
// documents list them.
var BrandBubbles = []string{job.BubbleText, job.BubbleImage, job.BubbleWide, job.BubbleWideItemList,
	job.BubblePremiumVideo, job.BubbleCommerce, job.BubbleCarouselFeed, job.BubbleCarouselCommerce}

// BrandJob returns a valid free-form brandmessage job of bubble type
// bubble with n recipients, with the images, buttons and coupon its bubble
// takes, for golden files, conformance runs and end-to-end tests.
func BrandJob(bubble string, n int) *job.Job {
	web := func(name, path string) job.Button {
		return job.Button{Type: "WL", Name: name, URLMobile: "https://m.example.com/" + path, URLPC: "https://www.example.com/" + path}
	}
	app := job.Button{Type: "AL", Name: "앱", SchemeIOS: "example://sale", SchemeAndroid: "example://sale"}
	img := func(name string) *job.BrandImage {
		return &job.BrandImage{URL: "https://mud-kage.kakao.com/dn/" + name + ".jpg", Link: "https://www.example.com/" + name}
	}
	link := job.Link{URLMobile: "https://m.example.com/more", URLPC: "https://www.example.com/more"}
	price := func(n int64) *int64 { return &n }
	b := &job.Brand{Bubble: bubble}
	switch bubble {
	case job.BubbleText:
		b.Content = "(광고) 겨울 세일: 코트 30% 할인, 일요일까지."
		b.Buttons = []job.Button{web("세일 보기", "sale"), app}
		b.Coupon = &job.Coupon{Title: "10% 할인 쿠폰", Description: "오늘만 사용 가능", Link: link}
	case job.BubbleImage:
		b.Content = "(광고) 새 겨울 컬렉션이 나왔습니다."
		b.Image = img("winter")
		b.Buttons = []job.Button{web("컬렉션 보기", "winter")}
	case job.BubbleWide:
		b.Content = "(광고) 겨울 세일 최대 50%"
		b.Image = img("wide")
		b.Buttons = []job.Button{web("보기", "wide"), {Type: "BK", Name: "쿠폰"}}
	case job.BubbleWideItemList:
		b.Header = "이번 주 추천"
		for i, t := range []string{"", "울 코트", "다운 패딩", "니트"} {
			b.Items = append(b.Items, job.WideItem{Title: t, ImageURL: fmt.Sprintf("https://mud-kage.kakao.com/dn/item%d.jpg", i), Link: link})
		}
		b.Buttons = []job.Button{web("전체 보기", "items")}
	case job.BubblePremiumVideo:
		b.Header = "겨울 캠페인"
		b.Content = "(광고) 30초 영상으로 보는 겨울 컬렉션"
		b.Video = &job.Video{URL: "https://tv.kakao.com/v/123456", ThumbnailURL: "https://mud-kage.kakao.com/dn/thumb.jpg"}
		b.Buttons = []job.Button{web("보기", "video")}
	case job.BubbleCommerce:
		b.Image = img("shoes")
		b.Commerce = &job.Commerce{Title: "방수 부츠", RegularPrice: price(89000), DiscountPrice: price(59000), DiscountRate: price(33)}
		b.AdditionalContent = "무료 배송"
		b.Buttons = []job.Button{web("구매", "boots")}
	case job.BubbleCarouselFeed:
		b.Carousel = &job.Carousel{Tail: &link}
		for i, h := range []string{"코트", "부츠"} {
			b.Carousel.Cards = append(b.Carousel.Cards, job.Card{Header: h, Message: "(광고) " + h + " 30% 할인",
				Image: *img(fmt.Sprintf("card%d", i)), Buttons: []job.Button{web("보기", fmt.Sprintf("card%d", i))}})
		}
	case job.BubbleCarouselCommerce:
		b.Carousel = &job.Carousel{Head: &job.CarouselHead{Header: "겨울 특가", Content: "(광고) 이번 주만", ImageURL: "https://mud-kage.kakao.com/dn/head.jpg", Link: link}}
		for i, t := range []string{"코트", "부츠"} {
			b.Carousel.Cards = append(b.Carousel.Cards, job.Card{AdditionalContent: "무료 배송", Image: *img(fmt.Sprintf("goods%d", i)),
				Commerce: &job.Commerce{Title: t, RegularPrice: price(100000), DiscountPrice: price(70000)},
				Buttons:  []job.Button{web("구매", fmt.Sprintf("goods%d", i))}})
		}
	default:
		panic("providertest: unknown bubble " + bubble)
	}
	j := &job.Job{Version: 1, ID: "brand-" + bubble, Account: "acct", Kind: job.BrandMessage, Sender: BrandSender,
		Ad: true, Brand: b,
		Failover: &job.Failover{Enabled: job.Bool(true), Type: "LMS", From: "1588-1234", Content: "(광고) 겨울 세일 안내 무료수신거부 0801234567"}}
	for i := range n {
		j.Recipients = append(j.Recipients, job.Recipient{Ref: fmt.Sprintf("r%d", i), Phone: fmt.Sprintf("010%08d", 1000+i)})
	}
	return j
}
