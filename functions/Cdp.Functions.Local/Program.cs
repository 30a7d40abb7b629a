// Placeholder so the test project (which references this host) builds on this branch; the real host replaces it.
var app = WebApplication.CreateSlimBuilder(args).Build();
app.Run();
