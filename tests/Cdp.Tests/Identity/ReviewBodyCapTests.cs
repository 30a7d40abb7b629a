using System.Net;
using System.Text;
using Cdp.Shared.Identity;
using Cdp.Tests.Support;

namespace Cdp.Tests.Identity;

/// <summary>A review decision is a word and a GUID: a body above <see cref="ReviewRequests.MaxBodyBytes"/> is 413 before parsing.</summary>
public sealed class ReviewBodyCapTests(CdpApp app) : IClassFixture<CdpApp>
{
    static StringContent Body(int bytes)
    {
        var prefix = """{"decision":"create","note":" """;
        return new StringContent(prefix + new string('x', bytes - prefix.Length - 2) + "\"}", Encoding.UTF8, "application/json");
    }

    [Fact]
    public async Task A_decision_body_at_the_cap_is_read_and_one_byte_more_is_413()
    {
        var path = $"/api/identity/reviews/{Guid.NewGuid()}/resolve";
        using var atCap = await app.Client.PostAsync(path, Body(ReviewRequests.MaxBodyBytes));
        using var above = await app.Client.PostAsync(path, Body(ReviewRequests.MaxBodyBytes + 1));
        Assert.Equal(HttpStatusCode.NotFound, atCap.StatusCode);   // read and decided: no such review
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, above.StatusCode);
    }
}
