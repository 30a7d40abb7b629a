using System.Net;
using Cdp.Shared.Events;

namespace Cdp.Tests.Events;

/// <summary>The pure decisions behind the website SDK: identity tokens and the rate limit's arithmetic.</summary>
public sealed class EventsSdkRulesTests
{
    const string Secret = "site-secret-of-at-least-32-bytes-0123456789";

    static ValidEvent Event(string userId, Guid? contact = null, Guid? account = null, string? token = null) =>
        new("e-" + Guid.NewGuid().ToString("N"), userId, contact, null, account, "page_view", DateTimeOffset.UtcNow, "{}") { IdentityToken = token };

    [Fact]
    public void The_token_is_lowercase_hex_HMAC_SHA256_of_the_user_id_keyed_by_the_site_secret()
    {
        // RFC 4231, test case 2: what any website backend's HMAC library gives.
        Assert.Equal("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", VerifyIdentityTokens.Token("Jefe", "what do ya want for nothing?"));
        var token = VerifyIdentityTokens.Token(Secret, "用户-42");
        Assert.True(VerifyIdentityTokens.IsValid(Secret, "用户-42", token));
        Assert.True(VerifyIdentityTokens.IsValid(Secret, "用户-42", token.ToUpperInvariant()));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("zz")]
    [InlineData("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec384")]    // 63 characters
    [InlineData("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec384g")]   // not hex
    public void A_missing_or_malformed_token_is_not_valid(string? token) =>
        Assert.False(VerifyIdentityTokens.IsValid(Secret, "u1", token));

    [Fact]
    public void A_token_for_another_user_or_secret_and_any_token_without_a_secret_are_not_valid()
    {
        Assert.False(VerifyIdentityTokens.IsValid(Secret, "u1", VerifyIdentityTokens.Token(Secret, "u2")));
        Assert.False(VerifyIdentityTokens.IsValid(Secret, "u1", VerifyIdentityTokens.Token(Secret + "x", "u1")));
        Assert.False(VerifyIdentityTokens.IsValid(null, "u1", VerifyIdentityTokens.Token(Secret, "u1")));
        Assert.False(VerifyIdentityTokens.IsValid("", "u1", VerifyIdentityTokens.Token("", "u1")));
    }

    [Fact]
    public void Events_naming_an_entity_without_a_valid_token_keep_only_their_user()
    {
        var (contact, account) = (Guid.NewGuid(), Guid.NewGuid());
        var events = new[]
        {
            Event("u1", contact, account),                                              // no token
            Event("u1", contact, token: VerifyIdentityTokens.Token(Secret, "u2")),      // someone else's token
            Event("u1", contact, account, VerifyIdentityTokens.Token(Secret, "u1")),    // valid
            Event("u1"),                                                                // names nothing: nothing to distrust
        };

        var (kept, untrusted) = VerifyIdentityTokens.Apply(events, Secret);

        Assert.Equal(2, untrusted);
        Assert.Equal(events.Select(e => e.EventId), kept.Select(e => e.EventId));
        Assert.All(kept.Take(2), e => Assert.False(e.NamesAnEntity));
        Assert.Equal((contact, account), (kept[2].ContactId, kept[2].AccountId));
        Assert.Equal(3, VerifyIdentityTokens.Apply(events, siteSecret: null).Untrusted);   // no secret: no token is valid
    }

    [Fact]
    public void The_counter_over_its_limit_that_frees_up_last_refuses()
    {
        Assert.Null(LimitEventRate.Exceeded([new("key", 10, 10, TimeSpan.FromSeconds(5)), new("address", 1, 3, TimeSpan.FromSeconds(50))]));
        var over = LimitEventRate.Exceeded([
            new("key", 11, 10, TimeSpan.FromSeconds(5)),
            new("address", 4, 3, TimeSpan.FromSeconds(40)),
            new("other", 1, 3, TimeSpan.FromSeconds(59)),
        ]);
        Assert.Equal(("address", TimeSpan.FromSeconds(40)), (over?.Scope, over?.ResetsIn));
    }

    [Theory]
    [InlineData("203.0.113.7", "203.0.113.7")]
    [InlineData("::ffff:203.0.113.7", "203.0.113.7")]
    [InlineData("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64")]
    [InlineData("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64")]
    public void A_client_is_its_IPv4_address_or_its_IPv6_64(string address, string bucket) =>
        Assert.Equal(bucket, LimitEventRate.AddressBucket(IPAddress.Parse(address)));

    [Fact]
    public void A_request_with_no_known_address_has_no_address_counter() => Assert.Null(LimitEventRate.AddressBucket(null));
}
