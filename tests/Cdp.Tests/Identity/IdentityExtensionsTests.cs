using Cdp.Shared.Identity;
using Cdp.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Cdp.Tests.Identity;

public class IdentityExtensionsTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    private ServiceProvider Build(string? threshold)
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Identity:FuzzyThreshold"] = threshold })
            .Build());
        services.AddSingleton(db.DataSource);
        services.AddIdentity();
        return services.BuildServiceProvider();
    }

    [Fact]
    public void RegistersTheResolverAndReviewsWithBoundOptions()
    {
        using var provider = Build("0.35");

        Assert.Equal(0.35, provider.GetRequiredService<IOptions<IdentityOptions>>().Value.FuzzyThreshold);
        Assert.NotNull(provider.GetRequiredService<IdentityResolver>());
        Assert.NotNull(provider.GetRequiredService<IdentityReviews>());
    }

    [Fact]
    public void RejectsAThresholdOutOfRange()
    {
        using var provider = Build("1.5");

        Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<IdentityOptions>>().Value);
    }
}
